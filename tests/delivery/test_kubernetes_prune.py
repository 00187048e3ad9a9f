"""What a kubernetes deployment marks as Lockstep's and what it prunes, through the real
`kubernetes` client against kmock's emulator (tests/support/kube.py): the owner marks, each rule
that keeps an object (kind, namespace limits, owner annotation, a replaced object, a kind the
cluster no longer serves), pruning only once healthy, the inventory's latest record, and a
rollback retried after an earlier attempt."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest

from lockstep.delivery.kube_owner import OWNER_ANNOTATION, marked
from lockstep.delivery.kubernetes import (
    KubernetesDelivery,
    Outcome,
    deliver_kubernetes_component,
    rollback_kubernetes_component,
)
from lockstep.delivery.kubernetes_live import diff_kubernetes, observe_kubernetes
from lockstep.domain.errors import HealthCheckFailed
from lockstep.domain.kube_objects import KubeObject, ObjectRef
from lockstep.domain.kube_scope import NamespaceLimits
from lockstep.domain.masking import Masker
from lockstep.domain.models import HealthSpec, RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.settings import KubernetesTargetSettings
from lockstep.store.engine import Store
from lockstep.store.inventory import StoreInventory, mark_applied, previous_objects, record_intent
from lockstep.store.revisions import record_revisions
from lockstep.targets.kubernetes import KubernetesCluster, PreconditionFailed
from tests.support.kube import EmulatedCluster, MemoryInventory

OWNER = "shop/staging/catalogue"
CONFIGMAPS = "v1/configmaps"


def config_map(name: str, namespace: str | None = None, **meta: Any) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {}), **meta}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": name}}


def ref(name: str, namespace: str = "shop", kind: str = "ConfigMap", api: str = "v1") -> ObjectRef:
    return ObjectRef(api, kind, namespace, name)


def component(*objects: dict[str, Any], timeout: float = 10.0, name: str = "catalogue") -> RenderedComponent:
    return RenderedComponent(
        name=name,
        kind="kubernetes",
        target="cluster",
        target_name="k8s",
        depends_on=(),
        content_hash="h",
        health=HealthSpec(timeout_seconds=timeout, interval_seconds=0.05),
        objects=tuple(copy.deepcopy(o) for o in objects),
        application="shop",
        environment="staging",
    )


def deliver(
    cluster: KubernetesCluster, desired: RenderedComponent, prune: Sequence[ObjectRef] = (), **kw: Any
) -> tuple[Outcome, MemoryInventory, list[str]]:
    journal, progress = MemoryInventory(), cast(list[str], [])
    delivery = KubernetesDelivery(desired, cluster, journal, progress.append, prune=prune, **kw)
    return deliver_kubernetes_component(delivery), journal, progress


def summaries(outcome: Outcome) -> dict[str, tuple[str, str]]:
    return {c.subject: (c.action.value, c.summary) for c in outcome.changes.changes}


def test_every_applied_object_carries_the_owner_marks_and_the_manifest_keeps_its_own(
    emulated: EmulatedCluster, target: KubernetesTargetSettings, cluster: KubernetesCluster
) -> None:
    labels = {"app": "catalogue", "app.kubernetes.io/managed-by": "helm"}
    flags = config_map("flags", labels=labels, annotations={"team": "shop", OWNER_ANNOTATION: "x/y/z"})
    desired = component(flags)
    deliver(cluster, desired)
    live = emulated.live(CONFIGMAPS, "shop", "flags")
    assert live is not None
    assert live["metadata"]["labels"] == {"app": "catalogue", "app.kubernetes.io/managed-by": "lockstep"}
    assert live["metadata"]["annotations"] == {"team": "shop", OWNER_ANNOTATION: OWNER}
    assert desired.objects[0] == flags  # marked where it is sent: the rendered manifest is as it was

    # The marks are no drift once applied ...
    [change_set] = diff_kubernetes(desired, observe_kubernetes(target, desired))
    assert [(c.action.value, c.summary) for c in change_set.changes] == [("unchanged", "")]
    # ... and an object applied before Lockstep marked its objects is configured once, naming them.
    cluster.apply(cast(KubeObject, config_map("old")))
    upgraded = component(config_map("old"))
    [change_set] = diff_kubernetes(upgraded, observe_kubernetes(target, upgraded))
    [change] = change_set.changes
    assert change.action == "configured"
    assert change.summary == "metadata.labels, metadata.annotations"  # it had none of either
    patches = [r for r in emulated.emulator if r.method == "PATCH" and r.params.get("dryRun") == "All"]
    assert patches[-1].data["metadata"]["annotations"] == {OWNER_ANNOTATION: OWNER}  # the dry run's too
    assert summaries(deliver(cluster, upgraded)[0]) == {"ConfigMap/shop/old": ("configured", "")}
    [change_set] = diff_kubernetes(upgraded, observe_kubernetes(target, upgraded))
    assert change_set.changes[0].action == "unchanged"


def test_only_objects_whose_live_owner_annotation_names_this_component_are_pruned(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    deliver(
        cluster, component(config_map("keep"), config_map("ours"), config_map("moved"), config_map("bare"))
    )
    cluster.apply(marked(config_map("moved"), "shop/staging/web"))  # another component took it over
    cluster.apply(cast(KubeObject, {**config_map("bare"), "metadata": {"name": "bare", "annotations": {}}}))
    emulated.call(
        lambda: emulated.emulator.objects[CONFIGMAPS, "shop", "bare"].patch(
            {"metadata": {"annotations": {OWNER_ANNOTATION: None}}}
        )
    )
    previous = [ref(n) for n in ("keep", "ours", "moved", "bare")]
    outcome, journal, _ = deliver(cluster, component(config_map("keep")), previous)

    assert summaries(outcome) == {
        "ConfigMap/shop/keep": ("unchanged", ""),
        "ConfigMap/shop/ours": ("deleted", "no longer in the component (created by Lockstep)"),
        "ConfigMap/shop/moved": (
            "unchanged",
            "no longer in the component; not pruned (lockstep.io/owner names shop/staging/web)",
        ),
        "ConfigMap/shop/bare": (
            "unchanged",
            "no longer in the component; not pruned (no lockstep.io/owner annotation: not applied by "
            "this component)",
        ),
    }
    assert emulated.live(CONFIGMAPS, "shop", "ours") is None
    assert emulated.live(CONFIGMAPS, "shop", "moved") is not None
    assert emulated.live(CONFIGMAPS, "shop", "bare") is not None
    status, output = journal.steps["deploy"]
    assert status == "succeeded" and output is not None
    assert output.splitlines()[0] == "0 created, 0 configured, 1 unchanged, 1 deleted, 2 not pruned"
    assert "not pruned ConfigMap/shop/moved: lockstep.io/owner names shop/staging/web" in output
    assert journal.steps["deploy ConfigMap/shop/bare"][1] is not None
    assert outcome.changed


def test_kept_kinds_and_objects_outside_the_limits_are_reported_not_pruned_nor_failed(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": {}}
    cluster.apply(marked(claim, OWNER))  # (a claim is healthy once bound: none is, here)
    deliver(cluster, component(config_map("jobs", "shop-jobs"), config_map("a")))
    limits = NamespaceLimits(target="k8s", namespace="shop", namespaces=("shop",))
    previous = [ref("data", kind="PersistentVolumeClaim"), ref("jobs", "shop-jobs"), ref("a")]
    outcome, _, _ = deliver(cluster, component(config_map("b")), previous, limits=limits)

    assert summaries(outcome) == {
        "ConfigMap/shop/b": ("created", ""),
        "ConfigMap/shop/a": ("deleted", "no longer in the component (created by Lockstep)"),
        "PersistentVolumeClaim/shop/data": (
            "unchanged",
            "no longer in the component; not pruned (kind kept: PersistentVolumeClaim)",
        ),
        "ConfigMap/shop-jobs/jobs": (
            "unchanged",
            "no longer in the component; not pruned (outside the target's limits: namespace shop-jobs)",
        ),
    }
    assert emulated.live("v1/persistentvolumeclaims", "shop", "data") is not None
    assert emulated.live(CONFIGMAPS, "shop-jobs", "jobs") is not None


def test_a_kind_the_cluster_no_longer_serves_is_gone_with_a_warning(cluster: KubernetesCluster) -> None:
    deliver(cluster, component(config_map("a")))
    gadget = ObjectRef("gadgets.example/v1", "Gadget", "shop", "g")
    outcome, journal, progress = deliver(cluster, component(config_map("a")), [gadget])
    assert summaries(outcome) == {"ConfigMap/shop/a": ("unchanged", "")}
    output = journal.steps["deploy"][1]
    assert (
        output is not None
        and "warning: Gadget/shop/g treated as gone: the cluster serves no Gadget" in output
    )
    assert any(p.startswith("warning: Gadget/shop/g treated as gone") for p in progress)


def test_nothing_is_pruned_until_the_component_is_healthy(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    deliver(cluster, component(config_map("old")))
    web = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "w", "image": "nginx:1"}]}}},
    }
    with pytest.raises(HealthCheckFailed):
        deliver(cluster, component(web, timeout=0.3), [ref("old")])  # no controller: never rolled out
    assert emulated.live(CONFIGMAPS, "shop", "old") is not None


def test_a_delete_carries_preconditions_so_a_replaced_object_is_not_deleted(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    deliver(cluster, component(config_map("a")))
    live = cluster.get(ref("a"))
    assert live is not None
    with pytest.raises(PreconditionFailed):
        cluster.delete(ref("a"), uid="not-its-uid")
    assert emulated.live(CONFIGMAPS, "shop", "a") is not None

    class Replacing:
        """The cluster, where someone deletes and recreates the object (unmarked) right after
        Lockstep first reads it."""

        def __init__(self) -> None:
            self.reads = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(cluster, name)

        def get(self, wanted: ObjectRef) -> KubeObject | None:
            found = cluster.get(wanted)
            self.reads += 1
            if self.reads == 1 and wanted == ref("a"):
                cluster.delete(wanted)
                cluster.apply(cast(KubeObject, config_map("a")))
            return found

    replacing = Replacing()
    delivery = KubernetesDelivery(component(), cast(Any, replacing), MemoryInventory(), prune=[ref("a")])
    outcome = deliver_kubernetes_component(delivery)
    [change] = outcome.changes.changes
    assert (change.action, change.summary) == (
        "unchanged",
        "no longer in the component; not pruned "
        "(no lockstep.io/owner annotation: not applied by this component)",
    )
    after = emulated.live(CONFIGMAPS, "shop", "a")
    assert after is not None and after["metadata"]["uid"] != live["metadata"]["uid"]
    deletes = [r for r in emulated.emulator if r.method == "DELETE"]
    assert deletes[-1].data["preconditions"] == {"uid": live["metadata"]["uid"]}


def test_the_inventory_s_latest_record_decides_what_is_lockstep_s(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    x, y, z = ref("x"), ref("y"), ref("z")

    def deployment(number: int, found: dict[ObjectRef, tuple[bool, bool]]) -> None:
        with store.session() as session:
            for r, (existed, owned) in found.items():
                record_intent(
                    session=session, deployment_id=f"d{number}", application="shop", environment="staging",
                    component="catalogue", commit=f"c{number}", ref=r, existed=existed, owned=owned,
                )  # fmt: skip
            mark_applied(session=session, deployment_id=f"d{number}", component="catalogue", refs=list(found))
            record_revisions(
                session=session, application="shop", environment="staging", deployment_id=f"d{number}",
                commit=f"c{number}", hashes={"catalogue": f"h{number}"},
            )  # fmt: skip

    # d1 creates x and y and finds z there before it; d2 finds x carrying this component's mark
    # (Lockstep's), y unmarked (someone deleted and recreated it), and z marked: now Lockstep's.
    deployment(1, {x: (False, False), y: (False, False), z: (True, False)})
    deployment(2, {x: (True, True), y: (True, False), z: (True, True)})
    with store.session() as session:
        found = previous_objects(
            session=session, application="shop", environment="staging", component="catalogue"
        )
    assert found == [x, z]


def test_a_retried_rollback_counts_what_an_earlier_attempt_put_back(
    emulated: EmulatedCluster, cluster: KubernetesCluster
) -> None:
    before: dict[str, object] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1},
    }
    deliver(cluster, component(before))
    changed = {**before, "spec": {"size": 2}}
    journal = MemoryInventory()
    deliver_kubernetes_component(
        KubernetesDelivery(component(changed, config_map("extra")), cluster, journal)
    )

    first = rollback_kubernetes_component(
        KubernetesDelivery(component(), cluster, journal, attempt=1), [before]
    )
    assert {c.subject: c.action.value for c in first.changes.changes} == {
        "Widget/shop/w": "configured",
        "ConfigMap/shop/extra": "deleted",
    }
    # The worker died before the activity returned: attempt 2 finds everything put back already.
    second = rollback_kubernetes_component(
        KubernetesDelivery(component(), cluster, journal, attempt=2), [before]
    )
    assert {c.subject: (c.action.value, c.summary) for c in second.changes.changes} == {
        "Widget/shop/w": ("configured", "put back by an earlier attempt"),
        "ConfigMap/shop/extra": ("deleted", "deleted by an earlier attempt"),
    }
    assert second.changed and second.changes.changed
    live = emulated.live("example.com/v1/widgets", "shop", "w")
    assert live is not None and live["spec"] == {"size": 1}
    # A first attempt that finds nothing to put back changes nothing.
    fresh = MemoryInventory()
    deliver_kubernetes_component(KubernetesDelivery(component(before), cluster, fresh))
    again = rollback_kubernetes_component(KubernetesDelivery(component(), cluster, fresh), [before])
    assert [c.action.value for c in again.changes.changes] == ["unchanged"] and not again.changes.changed


def test_the_store_journal_tells_a_rollback_of_an_earlier_attempt(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    journal = StoreInventory(
        store, deployment_id="d1", application="shop", environment="staging", component="catalogue",
        commit="c1", masker=Masker(()),
    )  # fmt: skip
    assert journal.step_status("rollback") is None
    journal.step("rollback", StepStatus.RUNNING, attempt=1)
    journal.step("rollback", StepStatus.SUCCEEDED, "re-applied (configured)", obj="ConfigMap/shop/a")
    assert journal.step_status("rollback") == "running"
    assert journal.step_status("rollback", obj="ConfigMap/shop/a") == "succeeded"
    assert journal.step_status("deploy") is None
