# Deployment policy for Kubernetes objects: part of data.lockstep.deploy (its input: policies/README.md).
#
# Each planned kubernetes component lists its objects where they will land
# (`input.plan.components[].objects`: apiVersion, kind, namespace, name; namespace null for a
# cluster-scoped kind) and its target's own namespace (`target_namespace`). In every environment:
#
# - a cluster-scoped object (ClusterRole, ClusterRoleBinding, CustomResourceDefinition,
#   Namespace …) is denied unless the environment is listed in
#   kubernetes.cluster_scoped_allowed;
# - an object in a namespace other than its target's own is denied unless
#   kubernetes.foreign_namespaces_allowed lists that namespace (or "*") for the environment.
#
# Messages are built with concat, not sprintf("%s"), as in deploy.rego.
package lockstep.deploy

import rego.v1

kube := data.lockstep.configuration.effective.kubernetes

deny contains msg if {
	not input.environment in kube.cluster_scoped_allowed
	some component in input.plan.components
	some obj in planned_objects(component)
	cluster_scoped(obj)
	msg := concat("", [
		"component \"", component.name, "\": ", obj.kind, "/", obj.name, " (", obj.apiVersion,
		") is cluster-scoped, and ", input.environment, " takes no cluster-scoped objects; ",
		"leave it to the cluster's administrators, or list ", input.environment,
		" in kubernetes.cluster_scoped_allowed in policies/data.json",
	])
}

deny contains msg if {
	some component in input.plan.components
	some obj in planned_objects(component)
	not cluster_scoped(obj)
	own := target_namespace(component)
	obj.namespace != own
	not foreign_namespace_allowed(obj.namespace)
	msg := concat("", [
		"component \"", component.name, "\": ", obj.kind, "/", obj.namespace, "/", obj.name,
		" goes to namespace \"", obj.namespace, "\", not its target's namespace \"", own, "\"; ",
		"drop its metadata.namespace, or allow \"", obj.namespace, "\" for ", input.environment,
		" in kubernetes.foreign_namespaces_allowed in policies/data.json",
	])
}

# Host components, and plans made before objects were listed, have none.
planned_objects(component) := object.get(component, "objects", [])

# A namespace that is null, absent or empty: the object is cluster-scoped.
cluster_scoped(obj) if not is_string(object.get(obj, "namespace", null))

cluster_scoped(obj) if obj.namespace == ""

# A missing target namespace makes every namespaced object foreign: failing closed.
target_namespace(component) := ns if {
	ns := object.get(component, "target_namespace", "")
	is_string(ns)
}

target_namespace(component) := "" if not is_string(object.get(component, "target_namespace", ""))

foreign_namespace_allowed(namespace) if {
	some allowed in object.get(kube.foreign_namespaces_allowed, input.environment, [])
	allowed == namespace
}

foreign_namespace_allowed(_) if {
	some allowed in object.get(kube.foreign_namespaces_allowed, input.environment, [])
	allowed == "*"
}
