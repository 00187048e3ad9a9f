# Tests for the Kubernetes object rules of data.lockstep.deploy over the shipped data.json, in an
# unprotected environment (staging) so only these rules speak. Inputs are set field by field and
# the plan is built inside a function from its arguments (see policies/README.md for why);
# allowances configured in data.json are tested from Python (tests/policy).
package lockstep.kubernetes_test

import rego.v1

import data.lockstep.deploy

deployment := {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "catalogue"}

kube_denials(environment, objects) := result if {
	plan := {
		"components": [{
			"name": "catalogue", "kind": "kubernetes", "target": "k8s-prod", "action": "update",
			"images": [], "target_namespace": "shop", "objects": objects,
		}],
		"waves": [["catalogue"]],
	}
	result := deploy.deny with input.environment as environment
		with input.plan as plan
		with input.now as "2026-11-23T10:00:00Z"
		with input.trigger.kind as "promotion"
}

test_objects_in_the_targets_namespace_allowed if {
	kube_denials("staging", [deployment]) == set()
}

test_cluster_role_binding_denied if {
	binding := {
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"namespace": null, "name": "catalogue-admin",
	}
	kube_denials("staging", [deployment, binding]) == {concat("", [
		`component "catalogue": ClusterRoleBinding/catalogue-admin (rbac.authorization.k8s.io/v1) `,
		"is cluster-scoped, and staging takes no cluster-scoped objects; leave it to the cluster's ",
		"administrators, or list staging in kubernetes.cluster_scoped_allowed in policies/data.json",
	])}
}

test_absent_or_empty_namespace_is_cluster_scoped if {
	crd := {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "name": "widgets.example.com"}
	ns := {"apiVersion": "v1", "kind": "Namespace", "namespace": "", "name": "other"}
	count(kube_denials("staging", [crd, ns])) == 2
}

test_foreign_namespace_denied if {
	config_map := {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "kube-system", "name": "flags"}
	kube_denials("production", [config_map]) == {concat("", [
		`component "catalogue": ConfigMap/kube-system/flags goes to namespace "kube-system", not its `,
		`target's namespace "shop"; drop its metadata.namespace, or allow "kube-system" for `,
		"production in kubernetes.foreign_namespaces_allowed in policies/data.json",
	])}
}

test_every_refused_object_is_named if {
	a := {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "a", "name": "x"}
	b := {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "b", "name": "x"}
	role := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "namespace": null, "name": "r"}
	count(kube_denials("staging", [a, b, role, deployment])) == 3
}

test_host_components_have_no_objects if {
	plan := {
		"components": [{
			"name": "web", "kind": "host", "target": "vms", "action": "update", "images": [],
			"dests": ["/srv/web"], "commands": ["systemctl restart web"],
		}],
		"waves": [["web"]],
	}
	denials := deploy.deny with input.environment as "staging"
		with input.plan as plan
		with input.now as "2026-11-23T10:00:00Z"
		with input.trigger.kind as "promotion"
	denials == set()
}

test_missing_target_namespace_fails_closed if {
	plan := {
		"components": [{
			"name": "catalogue", "kind": "kubernetes", "target": "k8s-prod", "action": "update",
			"images": [], "objects": [{"apiVersion": "v1", "kind": "Service", "namespace": "shop", "name": "s"}],
		}],
		"waves": [["catalogue"]],
	}
	denials := deploy.deny with input.environment as "staging"
		with input.plan as plan
		with input.now as "2026-11-23T10:00:00Z"
		with input.trigger.kind as "promotion"
	count(denials) == 1
}
