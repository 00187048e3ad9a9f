"""The kubernetes adapter and delivery through the real `kubernetes` client against kmock's
KubernetesEmulator (taught server-side apply, tests/support/kube.py) on a loopback port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from lockstep.delivery.kubernetes import KubernetesDelivery, deliver_kubernetes_component
from lockstep.domain.errors import ConfigError, HealthCheckFailed, TargetUnreachable
from lockstep.domain.kube_objects import KubeObject, ObjectRef
from lockstep.domain.models import HealthSpec, RenderedComponent
from lockstep.manifest.loader import load_kubernetes_documents
from lockstep.settings import KubernetesTargetSettings
from lockstep.targets.kubernetes import KubernetesApiError, KubernetesCluster, connect_kubernetes
from tests.support.kube import EmulatedCluster, MemoryInventory, emulated_cluster, rolled_out

SOCK_SHOP = Path(__file__).resolve().parents[3] / "shared/realworld/argocd-example-apps/sock-shop/base"
DEPLOYMENT: KubeObject = cast(
    KubeObject,
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "w", "image": "nginx:1"}]}}},
    },
)


@pytest.fixture
def emulated() -> Iterator[EmulatedCluster]:
    with emulated_cluster() as cluster:
        yield cluster


@pytest.fixture
def cluster(emulated: EmulatedCluster, tmp_path: Path) -> Iterator[KubernetesCluster]:
    kubeconfig = emulated.kubeconfig(tmp_path / "kubeconfig")
    target = KubernetesTargetSettings(
        type="kubernetes",
        kubeconfig=str(kubeconfig),
        context="emulated",
        namespace="shop",
        force_conflicts=True,
    )
    connected = connect_kubernetes(target)
    yield connected
    connected.close()


def test_apply_defaults_the_namespace_and_uses_the_lockstep_field_manager(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    first = cluster.apply(DEPLOYMENT)
    assert first.ref == ObjectRef("apps/v1", "Deployment", "shop", "web")
    assert first.action == "created"
    live = emulated.live("apps/v1/deployments", "shop", "web")
    assert live is not None and live["spec"]["replicas"] == 2
    patches = [r for r in emulated.emulator if r.method == "PATCH"]
    assert patches[-1].params.get("fieldManager") == "lockstep"
    assert patches[-1].params.get("force") == "true"
    assert "apply-patch+yaml" in patches[-1].headers["Content-Type"]

    assert cluster.apply(DEPLOYMENT).action == "unchanged"
    changed = cast(KubeObject, {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "replicas": 3}})
    assert cluster.apply(changed).action == "configured"


def test_cluster_scoped_objects_get_no_namespace(cluster: KubernetesCluster) -> None:
    # (kmock reads /api/v1/namespaces/<name> as a namespace prefix, so a ClusterRole stands in)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
    }
    assert cluster.apply(cast(KubeObject, role)).ref == ObjectRef(
        "rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"
    )
    explicit = cast(
        KubeObject, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"}}
    )
    assert cluster.ref(explicit).namespace == "x"


def test_get_and_delete(cluster: KubernetesCluster) -> None:
    ref = cluster.apply(DEPLOYMENT).ref
    live = cluster.get(ref)
    assert live is not None and live["metadata"]["name"] == "web"
    assert cluster.delete(ref) is True
    assert cluster.get(ref) is None
    assert cluster.delete(ref) is False


def test_unknown_kind_is_permanent(cluster: KubernetesCluster) -> None:
    gadget = cast(
        KubeObject, {"apiVersion": "nowhere.example/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    )
    with pytest.raises(KubernetesApiError, match="CRD") as err:
        cluster.apply(gadget)
    assert not err.value.retryable


def test_unreachable_api_is_retryable(tmp_path: Path) -> None:
    with emulated_cluster() as gone:
        kubeconfig = gone.kubeconfig(tmp_path / "kubeconfig")
    target = KubernetesTargetSettings(type="kubernetes", kubeconfig=str(kubeconfig), context="emulated")
    unreachable = connect_kubernetes(target, request_timeout=2)
    with pytest.raises(TargetUnreachable) as err:
        unreachable.apply(DEPLOYMENT)
    assert err.value.retryable


def test_missing_context_is_a_config_error(emulated: EmulatedCluster, tmp_path: Path) -> None:
    kubeconfig = emulated.kubeconfig(tmp_path / "kubeconfig")
    with pytest.raises(ConfigError, match="no-such-context"):
        connect_kubernetes(
            KubernetesTargetSettings(type="kubernetes", kubeconfig=str(kubeconfig), context="no-such-context")
        )


def _component(objects: list[dict[str, object]], timeout: float = 10.0) -> RenderedComponent:
    return RenderedComponent(
        name="shop",
        kind="kubernetes",
        target="cluster",
        target_name="k8s",
        depends_on=(),
        content_hash="x",
        health=HealthSpec(timeout_seconds=timeout, interval_seconds=0.05),
        objects=tuple(objects),
    )


def test_delivery_times_out_naming_the_unhealthy_objects(cluster: KubernetesCluster) -> None:
    journal = MemoryInventory()
    progress: list[str] = []
    delivery = KubernetesDelivery(
        _component([dict(DEPLOYMENT)], timeout=0.5), cluster, journal, progress.append
    )
    with pytest.raises(
        HealthCheckFailed, match=r"Deployment/shop/web is progressing \(waiting for generation 1"
    ):
        deliver_kubernetes_component(delivery)
    assert journal.created == {ObjectRef("apps/v1", "Deployment", "shop", "web"): True}
    assert journal.steps["health"][0] == "failed"
    assert "objects healthy 0/1" in progress


def test_sock_shop_applies_and_rolls_out(emulated: EmulatedCluster, cluster: KubernetesCluster) -> None:
    if not SOCK_SHOP.is_dir():
        pytest.skip(f"{SOCK_SHOP} is absent (the real-world manifests live beside the project, in ../shared)")
    objects = [
        obj
        for path in sorted(SOCK_SHOP.glob("*.yaml"))
        for _, obj in load_kubernetes_documents(path.read_text(), path.name)
    ]
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    assert len(objects) == 29 and len(deployments) == 14
    journal = MemoryInventory()
    progress: list[str] = []
    delivery = KubernetesDelivery(_component(objects), cluster, journal, progress.append)
    done = threading.Event()

    def controller() -> None:  # what the Deployment controller would do, once they exist
        while not done.wait(0.1):
            for d in deployments:
                meta = cast(dict[str, str], d["metadata"])
                live = emulated.live("apps/v1/deployments", meta.get("namespace", "shop"), meta["name"])
                if live is not None and "status" not in live:
                    spec = cast(dict[str, int], d["spec"])
                    status = rolled_out(spec.get("replicas", 1), live["metadata"]["generation"])
                    emulated.set_status(
                        "apps/v1/deployments", meta.get("namespace", "shop"), meta["name"], status
                    )

    thread = threading.Thread(target=controller)
    thread.start()
    try:
        outcome = deliver_kubernetes_component(delivery)
    finally:
        done.set()
        thread.join()
    assert len(outcome.objects) == 29 and outcome.changed
    assert outcome.detail.startswith("29 created, 0 configured, 0 unchanged")
    assert progress[-1] == "objects healthy 29/29"
    assert emulated.live("networking.k8s.io/v1/ingresses", "sock-shop", "front-end") is not None or any(
        ref.kind == "Ingress" for ref in journal.created
    )


def _config_map(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}}


def test_objects_the_component_dropped_are_pruned_only_when_lockstep_created_them(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    first = deliver_kubernetes_component(
        KubernetesDelivery(_component([_config_map("a"), _config_map("b")]), cluster, MemoryInventory())
    )
    assert [c.action for c in first.changes.changes] == ["created", "created"]
    cluster.apply(cast(KubeObject, _config_map("theirs")))  # on the cluster, not Lockstep's
    a, b, theirs = (ObjectRef("v1", "ConfigMap", "shop", n) for n in ("a", "b", "theirs"))

    # The live revision created a and b; the next one has only a. `theirs` is not on the prune
    # list (the inventory says Lockstep did not create it), so it stays whatever the component says.
    journal = MemoryInventory()
    delivery = KubernetesDelivery(_component([_config_map("a")]), cluster, journal, prune=[a, b])
    outcome = deliver_kubernetes_component(delivery)

    assert [(c.subject, c.action) for c in outcome.changes.changes] == [
        ("ConfigMap/shop/a", "unchanged"),
        ("ConfigMap/shop/b", "deleted"),
    ]
    assert outcome.changed and ", 1 deleted" in outcome.detail
    assert cluster.get(b) is None and cluster.get(a) is not None and cluster.get(theirs) is not None
    assert journal.steps["deploy"][0] == "succeeded"

    # A retry finds b gone already: nothing more is deleted, nothing fails.
    again = deliver_kubernetes_component(
        KubernetesDelivery(_component([_config_map("a")]), cluster, MemoryInventory(), prune=[a, b])
    )
    assert [c.action for c in again.changes.changes] == ["unchanged"]
