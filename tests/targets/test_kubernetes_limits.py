"""A kubernetes target's `namespaces` and `cluster_scoped` settings: validated in the server
configuration, and enforced by the delivery before anything is applied, on what the cluster's
discovery says (the real `kubernetes` client against kmock's KubernetesEmulator, tests/support/kube.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lockstep.delivery.kubernetes import (
    KubernetesDelivery,
    deliver_kubernetes_component,
    rollback_kubernetes_component,
)
from lockstep.domain.errors import ConfigError, PlacementRefused
from lockstep.domain.kube_objects import ObjectRef
from lockstep.domain.kube_scope import NamespaceLimits
from lockstep.domain.models import HealthSpec, RenderedComponent
from lockstep.settings import KubernetesTargetSettings, load_settings
from lockstep.targets.kubernetes import KubernetesCluster, connect_kubernetes
from tests.support.kube import EmulatedCluster, MemoryInventory, emulated_cluster

CONFIG_MAP: dict[str, object] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "flags"},
    "data": {"a": "1"},
}
ELSEWHERE: dict[str, object] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "x", "namespace": "kube-system"},
}
JOBS: dict[str, object] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "j", "namespace": "shop-jobs"},
}
ROLE: dict[str, object] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "reader"},
}
# A custom kind no built-in list knows: only the cluster's discovery says it is cluster-scoped.
GADGET: dict[str, object] = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}


def test_defaults_restrict_nothing() -> None:
    target = KubernetesTargetSettings(type="kubernetes")
    assert (target.namespace, target.namespaces, target.cluster_scoped) == ("default", None, True)
    assert not target.limits("k8s").restricts


def test_namespaces_must_hold_the_targets_namespace(tmp_path: Path) -> None:
    config = tmp_path / "lockstep-server.yaml"
    config.write_text("targets:\n  k8s: {type: kubernetes, namespace: shop, namespaces: [shop-jobs]}\n")
    expected = r"targets\.k8s\.kubernetes: namespaces \[shop-jobs\] must include the target's namespace"
    with pytest.raises(ConfigError, match=expected + " 'shop'"):
        load_settings(config)
    config.write_text("targets:\n  k8s: {type: kubernetes, namespace: shop, namespaces: [Shop_Jobs]}\n")
    with pytest.raises(ConfigError, match=r"targets\.k8s\.kubernetes\.namespaces\.0"):
        load_settings(config)
    config.write_text(
        "targets:\n  k8s: {type: kubernetes, namespace: shop, namespaces: [shop, shop-jobs],"
        " cluster_scoped: false}\n"
    )
    target = load_settings(config).targets["k8s"]
    assert isinstance(target, KubernetesTargetSettings)
    assert target.limits("k8s") == NamespaceLimits("k8s", "shop", ("shop", "shop-jobs"), False)


@pytest.fixture
def emulated() -> Iterator[EmulatedCluster]:
    with emulated_cluster() as cluster:
        gadgets: Any = {  # a ResourceInfo, as tests/support/kube.py gives kmock its extras
            "kind": "Gadget",
            "namespaced": False,
            "singular": "gadget",
            "verbs": {"get", "list", "patch", "delete", "create"},
        }
        cluster.emulator.resources["example.com/v1/gadgets"] = gadgets
        yield cluster


@pytest.fixture
def cluster(emulated: EmulatedCluster, tmp_path: Path) -> Iterator[KubernetesCluster]:
    kubeconfig = emulated.kubeconfig(tmp_path / "kubeconfig")
    target = KubernetesTargetSettings(
        type="kubernetes", kubeconfig=str(kubeconfig), context="emulated", namespace="shop"
    )
    connected = connect_kubernetes(target)
    yield connected
    connected.close()


def _delivery(
    cluster: KubernetesCluster, objects: list[dict[str, Any]], limits: NamespaceLimits
) -> tuple[KubernetesDelivery, MemoryInventory]:
    component = RenderedComponent(
        name="catalogue",
        kind="kubernetes",
        target="cluster",
        target_name="k8s-prod",
        depends_on=(),
        content_hash="x",
        health=HealthSpec(timeout_seconds=5, interval_seconds=0.05),
        objects=tuple(objects),
    )
    journal = MemoryInventory()
    return KubernetesDelivery(component, cluster, journal, limits=limits), journal


def _writes(emulated: EmulatedCluster) -> list[str]:
    return [
        f"{r.method} {r.url}" for r in emulated.emulator if r.method in ("PATCH", "POST", "PUT", "DELETE")
    ]


def test_a_namespace_outside_the_list_refuses_the_whole_component(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    limits = NamespaceLimits("k8s-prod", "shop", ("shop", "shop-jobs"))
    delivery, journal = _delivery(cluster, [CONFIG_MAP, JOBS, ELSEWHERE], limits)
    with pytest.raises(PlacementRefused) as refused:
        deliver_kubernetes_component(delivery)
    assert str(refused.value) == (
        'component "catalogue": ConfigMap/kube-system/x goes to namespace "kube-system", which target '
        '"k8s-prod" does not allow (namespaces: shop, shop-jobs in the server configuration); drop its '
        'metadata.namespace, or add "kube-system" to the target\'s namespaces'
    )
    assert not refused.value.retryable
    assert _writes(emulated) == [], "nothing was applied, not even the allowed objects before it"
    assert emulated.live("v1/configmaps", "shop", "flags") is None
    assert journal.created == {}, "nothing was recorded for a rollback to undo"
    assert journal.steps["deploy"][0] == "failed"


def test_cluster_scoped_false_refuses_what_discovery_calls_cluster_scoped(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    limits = NamespaceLimits("k8s-prod", "shop", cluster_scoped=False)
    delivery, _ = _delivery(cluster, [CONFIG_MAP, ROLE, GADGET], limits)
    with pytest.raises(PlacementRefused) as refused:
        deliver_kubernetes_component(delivery)
    message = str(refused.value)
    assert 'component "catalogue": ClusterRole/reader is cluster-scoped' in message
    assert 'component "catalogue": Gadget/g is cluster-scoped' in message
    assert "cluster_scoped: false in the server configuration" in message
    assert _writes(emulated) == []


def test_objects_within_the_limits_are_applied(emulated: EmulatedCluster, cluster: KubernetesCluster) -> None:
    limits = NamespaceLimits("k8s-prod", "shop", ("shop", "shop-jobs"))
    delivery, journal = _delivery(cluster, [CONFIG_MAP, JOBS, ROLE], limits)
    outcome = deliver_kubernetes_component(delivery)
    assert outcome.objects == ["ConfigMap/shop/flags", "ConfigMap/shop-jobs/j", "ClusterRole/reader"]
    assert emulated.live("v1/configmaps", "shop-jobs", "j") is not None
    assert ObjectRef("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader") in journal.created


def test_rollback_refuses_to_restore_objects_the_target_no_longer_takes(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    """Limits tightened since the previous revision: nothing is re-applied or deleted."""
    limits = NamespaceLimits("k8s-prod", "shop", ("shop",))
    delivery, journal = _delivery(cluster, [CONFIG_MAP], limits)
    deliver_kubernetes_component(delivery)
    before = _writes(emulated)
    with pytest.raises(PlacementRefused, match=r"ConfigMap/shop-jobs/j goes to namespace \"shop-jobs\""):
        rollback_kubernetes_component(delivery, [JOBS])
    assert _writes(emulated) == before
    assert emulated.live("v1/configmaps", "shop", "flags") is not None
    assert journal.steps["rollback"][0] == "failed"
