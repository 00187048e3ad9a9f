"""Where an object lands and what a target's namespace limits refuse (lockstep.domain.kube_scope)."""

from __future__ import annotations

from lockstep.domain.kube_scope import NamespaceLimits, declared_scopes, is_cluster_scoped, placement
from lockstep.domain.models import PlannedObject

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterwidgets.example.com"},
    "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "ClusterWidget"}},
}


def test_the_objects_own_namespace_wins_else_the_targets() -> None:
    named = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "jobs"}}
    unnamed = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    assert placement(named, namespace="shop", declared={}) == PlannedObject(
        apiVersion="v1", kind="ConfigMap", namespace="jobs", name="c"
    )
    assert placement(unnamed, namespace="shop", declared={}).namespace == "shop"


def test_well_known_cluster_scoped_kinds_get_no_namespace() -> None:
    for api_version, kind in [
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("v1", "Namespace"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("storage.k8s.io/v1", "StorageClass"),
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ]:
        obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x", "namespace": "shop"}}
        assert placement(obj, namespace="shop", declared={}).namespace is None, kind
    # The group counts: a custom kind that happens to be called Namespace is namespaced.
    assert not is_cluster_scoped("example.com/v1", "Namespace", {})


def test_crds_in_the_deployment_declare_the_scope_of_their_kinds() -> None:
    namespaced = {**CRD, "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget"}}}
    declared = declared_scopes([CRD, namespaced, {"kind": "CustomResourceDefinition", "apiVersion": "x/v1"}])
    assert declared == {("example.com", "ClusterWidget"): True, ("example.com", "Widget"): False}
    widget = {"apiVersion": "example.com/v1", "kind": "ClusterWidget", "metadata": {"name": "w"}}
    assert placement(widget, namespace="shop", declared=declared).namespace is None
    assert placement(widget, namespace="shop", declared={}).namespace == "shop"  # unknown: namespaced


def test_unrestricted_limits_refuse_nothing() -> None:
    limits = NamespaceLimits("k8s", "shop")
    assert not limits.restricts
    assert limits.refusal("c", "ClusterRole", None, "r") is None
    assert limits.refusal("c", "ConfigMap", "anywhere", "x") is None


def test_limits_name_component_object_and_setting() -> None:
    limits = NamespaceLimits("k8s-prod", "shop", ("shop", "shop-jobs"), cluster_scoped=False)
    objects = [
        PlannedObject(apiVersion="v1", kind="ConfigMap", namespace="shop-jobs", name="ok"),
        PlannedObject(apiVersion="v1", kind="ConfigMap", namespace="kube-system", name="flags"),
        PlannedObject(
            apiVersion="rbac.authorization.k8s.io/v1", kind="ClusterRole", namespace=None, name="r"
        ),
    ]
    assert limits.refusals("catalogue", objects) == [
        'component "catalogue": ConfigMap/kube-system/flags goes to namespace "kube-system", which target '
        '"k8s-prod" does not allow (namespaces: shop, shop-jobs in the server configuration); drop its '
        'metadata.namespace, or add "kube-system" to the target\'s namespaces',
        'component "catalogue": ClusterRole/r is cluster-scoped, and target "k8s-prod" takes no '
        "cluster-scoped objects (cluster_scoped: false in the server configuration); move it to a "
        'component on a target that allows them, or set cluster_scoped: true on "k8s-prod"',
    ]
    assert limits.refusal("c", "ClusterRole", "", "r") is not None  # "" is cluster-scoped too
