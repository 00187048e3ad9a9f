"""What applying a kubernetes component would change, read from kmock's emulator (taught
server-side apply and dry runs, tests/support/kube.py) through the real `kubernetes` client."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from lockstep.delivery.kinds import deliverers
from lockstep.delivery.kube_owner import marked
from lockstep.delivery.kubernetes_live import LEFT_BEHIND, diff_kubernetes, observe_kubernetes
from lockstep.domain.changes import ChangeSet
from lockstep.domain.kube_objects import ObjectRef
from lockstep.domain.models import HealthSpec, RenderedComponent
from lockstep.settings import KubernetesTargetSettings
from lockstep.store.engine import Store
from lockstep.store.inventory import mark_applied, record_intent
from lockstep.store.revisions import record_revisions
from lockstep.targets.kubernetes import KubernetesCluster
from lockstep.targets.registry import TargetRegistry
from tests.support.kube import EmulatedCluster, emulated_cluster

DEPLOYMENTS = "apps/v1/deployments"
WEB: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "w", "image": "nginx:1"}]}}},
}
FLAGS: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "flags"},
    "data": {"a": "1"},
}


def component(*objects: dict[str, Any], application: str = "") -> RenderedComponent:
    return RenderedComponent(
        name="shop",
        kind="kubernetes",
        target="cluster",
        target_name="k8s",
        depends_on=(),
        content_hash="x",
        health=HealthSpec(),
        objects=tuple(copy.deepcopy(o) for o in objects),
        application=application,
        environment="staging" if application else "",
    )


def changes_of(
    target: KubernetesTargetSettings, desired: RenderedComponent, *, with_diff: bool = False, **kw: Any
) -> ChangeSet:
    [change_set] = diff_kubernetes(desired, observe_kubernetes(target, desired, **kw), with_diff=with_diff)
    assert change_set.location == ""
    return change_set


def actions(change_set: ChangeSet) -> dict[str, tuple[str, str]]:
    return {c.subject: (c.action.value, c.summary) for c in change_set.changes}


def apply_marked(cluster: KubernetesCluster, obj: dict[str, Any], *, owner: str = "//shop") -> None:
    """Apply `obj` as a deployment of `component()` (or `owner`) does: marked as Lockstep's."""
    cluster.apply(marked(obj, owner))


def with_image(obj: dict[str, Any], image: str) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return changed


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "no-dry-run"])
def test_new_objects_are_created_and_looking_stores_nothing(
    emulated: EmulatedCluster, target: KubernetesTargetSettings, dry_run: bool
) -> None:
    emulated.emulator.dry_run = dry_run
    change_set = changes_of(target, component(WEB, FLAGS))
    assert actions(change_set) == {
        "Deployment/shop/web": ("created", ""),
        "ConfigMap/shop/flags": ("created", ""),
    }
    assert change_set.summary() == "2 created"
    assert emulated.live(DEPLOYMENTS, "shop", "web") is None
    assert emulated.live("v1/configmaps", "shop", "flags") is None
    patches = [r for r in emulated.emulator if r.method == "PATCH"]
    assert patches and all(p.params.get("dryRun") == "All" for p in patches)
    assert all(p.params.get("fieldManager") == "lockstep" for p in patches)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "no-dry-run"])
def test_applied_objects_are_unchanged_whatever_the_server_adds(
    emulated: EmulatedCluster, target: KubernetesTargetSettings, cluster: KubernetesCluster, dry_run: bool
) -> None:
    emulated.emulator.dry_run = dry_run
    apply_marked(cluster, WEB)
    emulated.set_status(DEPLOYMENTS, "shop", "web", {"readyReplicas": 2})
    emulated.call(
        lambda: emulated.emulator.objects[DEPLOYMENTS, "shop", "web"].patch(
            {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "1"}, "resourceVersion": "7"}}
        )
    )
    change_set = changes_of(target, component(WEB))
    assert actions(change_set) == {"Deployment/shop/web": ("unchanged", "")}
    assert not change_set.changed


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "no-dry-run"])
def test_a_field_another_manager_changed_or_the_manifest_changes_is_configured(
    emulated: EmulatedCluster, target: KubernetesTargetSettings, cluster: KubernetesCluster, dry_run: bool
) -> None:
    emulated.emulator.dry_run = dry_run
    apply_marked(cluster, WEB)
    # What `kubectl scale` (another field manager) does to the live object:
    emulated.call(
        lambda: emulated.emulator.objects[DEPLOYMENTS, "shop", "web"].patch({"spec": {"replicas": 5}})
    )
    change_set = changes_of(target, component(with_image(WEB, "nginx:2")))
    [change] = change_set.changes
    assert change.subject == "Deployment/shop/web" and change.action == "configured"
    assert change.summary.startswith("spec.replicas, spec.template.spec.containers[0].image")
    assert ("dry run refused, HTTP 400" in change.summary) is not dry_run
    assert change_set.summary() == "1 configured"
    live = emulated.live(DEPLOYMENTS, "shop", "web")
    assert live is not None and live["spec"]["replicas"] == 5  # looking changed nothing


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "no-dry-run"])
def test_counting_changes_dry_runs_only_the_objects_that_differ(
    emulated: EmulatedCluster, target: KubernetesTargetSettings, cluster: KubernetesCluster, dry_run: bool
) -> None:
    """What a drift sweep and a plan without --diff ask for: the same answer as a dry run of
    every object, with a dry run only for the object another field manager changed."""
    emulated.emulator.dry_run = dry_run
    apply_marked(cluster, WEB)
    apply_marked(cluster, FLAGS)
    emulated.call(
        lambda: emulated.emulator.objects[DEPLOYMENTS, "shop", "web"].patch({"spec": {"replicas": 5}})
    )
    new = {**FLAGS, "metadata": {"name": "new"}}
    before = len([r for r in emulated.emulator if r.params.get("dryRun") == "All"])
    counted = changes_of(target, component(WEB, FLAGS, new), dry_runs="differing")
    dry_runs = [r for r in emulated.emulator if r.params.get("dryRun") == "All"][before:]
    assert [r.name for r in dry_runs] == ["web"]
    assert actions(counted) == actions(changes_of(target, component(WEB, FLAGS, new)))
    assert actions(counted)["Deployment/shop/web"][0] == "configured"
    assert actions(counted)["Deployment/shop/web"][1].startswith("spec.replicas")
    assert counted.summary() == "1 created, 1 configured, 1 unchanged"


def test_a_changed_label_is_named_by_its_key(
    target: KubernetesTargetSettings, cluster: KubernetesCluster
) -> None:
    apply_marked(cluster, WEB)
    relabelled = copy.deepcopy(WEB)
    relabelled["metadata"]["labels"]["app.kubernetes.io/name"] = "shop-web"
    assert actions(changes_of(target, component(relabelled))) == {
        "Deployment/shop/web": ("configured", 'metadata.labels["app.kubernetes.io/name"]')
    }


def test_diff_shows_the_changed_fields_as_yaml(
    emulated: EmulatedCluster, target: KubernetesTargetSettings, cluster: KubernetesCluster
) -> None:
    apply_marked(cluster, WEB)
    emulated.call(
        lambda: emulated.emulator.objects[DEPLOYMENTS, "shop", "web"].patch({"spec": {"replicas": 5}})
    )
    change_set = changes_of(target, component(with_image(WEB, "nginx:2"), FLAGS), with_diff=True)
    web, flags = change_set.changes
    assert web.diff.startswith("--- live/Deployment/shop/web\n+++ desired/Deployment/shop/web\n")
    lines = web.diff.splitlines()
    assert "-  replicas: 5" in lines and "+  replicas: 2" in lines
    assert "-      - image: nginx:1" in lines and "+      - image: nginx:2" in lines
    assert not any("uid" in line or "generation" in line for line in lines)  # what the server owns
    assert flags.action == "created" and "+data:" in flags.diff.splitlines()
    assert changes_of(target, component(WEB)).changes[0].diff == ""  # only when asked


def test_objects_lockstep_created_that_the_component_dropped_are_deleted(
    target: KubernetesTargetSettings, cluster: KubernetesCluster
) -> None:
    apply_marked(cluster, WEB)
    apply_marked(cluster, FLAGS)
    flags = ObjectRef("v1", "ConfigMap", "shop", "flags")
    gone = ObjectRef("v1", "ConfigMap", "shop", "gone")
    web = ObjectRef("apps/v1", "Deployment", "shop", "web")
    change_set = changes_of(target, component(WEB), previous_refs=[web, flags, gone], with_diff=True)
    assert actions(change_set) == {
        "Deployment/shop/web": ("unchanged", ""),
        "ConfigMap/shop/flags": ("deleted", LEFT_BEHIND),
    }
    assert "-data:" in change_set.changes[1].diff.splitlines()
    assert change_set.summary() == "1 unchanged, 1 deleted"


def test_an_unreachable_or_misconfigured_cluster_is_reported_not_raised(tmp_path: Path) -> None:
    with emulated_cluster() as gone:
        kubeconfig = gone.kubeconfig(tmp_path / "kubeconfig")
    settings = KubernetesTargetSettings(type="kubernetes", kubeconfig=str(kubeconfig), context="emulated")
    [change_set] = diff_kubernetes(
        component(WEB), observe_kubernetes(settings, component(WEB), request_timeout=2)
    )
    assert change_set.unreachable is not None and "unreachable" in change_set.unreachable
    assert change_set.changes == [] and change_set.summary().startswith("unreachable: ")

    wrong = settings.model_copy(update={"context": "no-such-context"})
    [change_set] = diff_kubernetes(component(WEB), observe_kubernetes(wrong, component(WEB)))
    assert change_set.unreachable is not None and "no-such-context" in change_set.unreachable


def test_the_deliverer_finds_what_the_live_revision_created_in_the_inventory(
    target: KubernetesTargetSettings, cluster: KubernetesCluster, tmp_path: Path
) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    existing = ObjectRef("v1", "ConfigMap", "shop", "existing")  # there before Lockstep applied it
    flags = ObjectRef("v1", "ConfigMap", "shop", "flags")
    for obj in (WEB, FLAGS, {**FLAGS, "metadata": {"name": "existing"}}):
        apply_marked(cluster, obj, owner="shop/staging/shop")
    with store.session() as session:
        for ref, existed in ((flags, False), (existing, True)):
            record_intent(
                session=session, application="shop", environment="staging", component="shop",
                deployment_id="d1", commit="c1", ref=ref, existed=existed,
            )  # fmt: skip
        mark_applied(session=session, deployment_id="d1", component="shop", refs=[flags, existing])
        record_revisions(
            session=session, application="shop", environment="staging", deployment_id="d1", commit="c1",
            hashes={"shop": "h1"},
        )  # fmt: skip
    settings = {"k8s": target}
    deliverer = deliverers(targets=TargetRegistry(settings), store=store).for_kind("kubernetes")
    desired = component(WEB, application="shop")
    [change_set] = deliverer.diff(desired, deliverer.observe(desired))
    assert actions(change_set) == {
        "Deployment/shop/web": ("unchanged", ""),
        "ConfigMap/shop/flags": ("deleted", LEFT_BEHIND),
    }
    # Without a known application (nothing to look up), nothing is left behind; its owner
    # annotation would name another owner.
    anonymous = component(WEB)
    [change_set] = deliverer.diff(anonymous, deliverer.observe(anonymous))
    assert actions(change_set) == {
        "Deployment/shop/web": ("configured", 'metadata.annotations["lockstep.io/owner"]')
    }


def secret(**string_data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": string_data}


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "no-dry-run"])
def test_a_secret_s_string_data_is_compared_with_its_live_data_and_never_shown(
    emulated: EmulatedCluster, target: KubernetesTargetSettings, cluster: KubernetesCluster, dry_run: bool
) -> None:
    emulated.emulator.dry_run = dry_run
    apply_marked(cluster, secret(password="old-pw", user="shop"))
    live = emulated.live("v1/secrets", "shop", "db")
    assert live is not None and "stringData" not in live  # the server keeps only data (base64)

    assert actions(changes_of(target, component(secret(password="old-pw", user="shop")))) == {
        "Secret/shop/db": ("unchanged", "")
    }
    change_set = changes_of(target, component(secret(password="new-pw", user="shop")), with_diff=True)
    [change] = change_set.changes
    assert (change.action, change.summary.split(" (")[0]) == ("configured", "stringData.password")
    lines = change.diff.splitlines()
    assert "-  password: '***'" in lines and "+  password: '*** (changed)'" in lines
    assert not any(line.startswith(("-", "+")) and "user" in line for line in lines)
    for value in ("old-pw", "new-pw", "b2xkLXB3", "bmV3LXB3"):  # plain and base64
        assert value not in change.diff


def test_a_created_or_deleted_secret_s_values_are_masked(
    target: KubernetesTargetSettings, cluster: KubernetesCluster
) -> None:
    created = changes_of(target, component(secret(password="pw-1")), with_diff=True).changes[0]
    assert created.action == "created" and "+  password: '***'" in created.diff.splitlines()
    apply_marked(cluster, secret(password="pw-1"))
    gone = ObjectRef("v1", "Secret", "shop", "db")
    [deleted] = changes_of(target, component(), previous_refs=[gone], with_diff=True).changes
    assert deleted.action == "deleted" and "-  password: '***'" in deleted.diff.splitlines()
    assert "pw-1" not in created.diff + deleted.diff and "cHctMQ==" not in created.diff + deleted.diff
