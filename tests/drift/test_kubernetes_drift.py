"""Drift on a cluster (kmock's emulator, taught server-side apply) after a real deployment:
replicas scaled by another field manager are modified, a deleted ConfigMap is missing, an extra
object marked as the component's is unexpected, an ignore path suppresses a field, and the
kubernetes items carry the object and the field, not a host; a remediation puts them back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.delivery.kube_owner import marked
from lockstep.domain.kube_objects import ObjectRef
from lockstep.domain.status import DeploymentStatus
from lockstep.drift.sweep import CLOCK_MARGIN
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import KubernetesTargetSettings, Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from lockstep.targets.kubernetes import connect_kubernetes
from tests.drift.conftest import Sweep, remediate, sweep_now
from tests.support.apprepo import commit
from tests.support.kube import EmulatedCluster, rolling_cluster
from tests.workflows.helpers import deploy, deployment_result

pytestmark = [pytest.mark.temporal, pytest.mark.store]

MANIFEST = """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {cluster: k8s-test}
components:
  - name: catalogue
    target: cluster
    kubernetes: {manifests: k8s/}
    health: {timeout: 10s, interval: 100ms}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalogue}
spec:
  replicas: 2
  template: {spec: {containers: [{name: c, image: "weaveworksdemos/catalogue:0.3.5"}]}}
"""
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: catalogue-flags}\ndata: {beta: 'on'}\n"


@pytest.fixture
def emulated() -> Iterator[EmulatedCluster]:
    with rolling_cluster() as cluster:
        yield cluster


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    files = {"lockstep.yaml": MANIFEST, "k8s/deployment.yaml": DEPLOYMENT, "k8s/flags.yaml": CONFIGMAP}
    commit(repo, files, "first version")
    return repo


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, emulated: EmulatedCluster) -> Settings:
    raw = settings.model_dump()  # validated again: the new target is a plain mapping
    raw["targets"] |= {"k8s-test": emulated.target(tmp_path / "kubeconfig")}
    return Settings(**raw)


async def test_scaled_and_deleted_objects_are_drift(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    emulated: EmulatedCluster,
    sweep: Sweep,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    assert sweep().state == "in_sync"

    # `kubectl scale` (another field manager) and `kubectl delete configmap`:
    emulated.call(
        lambda: emulated.emulator.objects["apps/v1/deployments", "shop", "catalogue"].patch(
            {"spec": {"replicas": 5}}
        )
    )
    target = settings.targets["k8s-test"]
    assert isinstance(target, KubernetesTargetSettings)
    assert connect_kubernetes(target).delete(ObjectRef("v1", "ConfigMap", "shop", "catalogue-flags"))
    drifted = sweep()

    assert drifted.state == "drifted"
    found = {(i.kind, i.object, i.path) for i in drifted.items}
    assert found == {
        ("modified", "Deployment/shop/catalogue", "spec.replicas"),
        ("missing", "ConfigMap/shop/catalogue-flags", ""),
    }
    for item in drifted.items:
        assert (item.component, item.target, item.host) == ("catalogue", "k8s-test", "")
        assert item.last_deployment is not None and item.last_deployment.id == first.id
    live = emulated.live("apps/v1/deployments", "shop", "catalogue")
    assert live is not None and live["spec"]["replicas"] == 5  # the sweep only looks


async def test_an_unreachable_cluster_is_unknown_never_in_sync(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    tmp_path: Path,
    emulated: EmulatedCluster,
    sweep: Sweep,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    kubeconfig = tmp_path / "kubeconfig"  # the cluster moves away: nothing listens there
    kubeconfig.write_text(kubeconfig.read_text().replace(emulated.url, "http://127.0.0.1:9"))
    unknown = sweep()
    assert unknown.state == "unknown" and unknown.items == []
    assert unknown.reason is not None and unknown.reason.startswith("catalogue: k8s-test")


async def test_a_remediation_takes_back_the_fields_and_recreates_the_object(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    emulated: EmulatedCluster,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    emulated.call(
        lambda: emulated.emulator.objects["apps/v1/deployments", "shop", "catalogue"].patch(
            {"spec": {"replicas": 5}}
        )
    )
    target = settings.targets["k8s-test"]
    assert isinstance(target, KubernetesTargetSettings)
    assert connect_kubernetes(target).delete(ObjectRef("v1", "ConfigMap", "shop", "catalogue-flags"))
    await remediate(settings, ["staging"])

    [swept] = (await sweep_now(temporal_env, settings)).environments
    assert (swept.state, swept.items) == ("drifted", 2) and swept.remediation is not None
    result = await deployment_result(temporal_env, swept.remediation)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error

    live = emulated.live("apps/v1/deployments", "shop", "catalogue")
    assert live is not None and live["spec"]["replicas"] == 2
    assert emulated.live("v1/configmaps", "shop", "catalogue-flags") is not None
    [synced] = (await sweep_now(temporal_env, settings)).environments
    assert (synced.state, synced.items) == ("in_sync", 0)
    with store.session() as session:
        rows = events_for(session=session, deployment_id=None)
    resolved = [json.loads(r.detail_json) for r in rows if r.kind == "drift_resolved"]
    assert sorted((d["kind"], d["resolution"], d["remediation"]) for d in resolved) == [
        ("missing", "remediated", swept.remediation),
        ("modified", "remediated", swept.remediation),
    ]


async def test_a_sweep_shares_a_listing_but_never_one_older_than_a_deployment(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    emulated: EmulatedCluster,
    sweep: Sweep,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    await asyncio.sleep(CLOCK_MARGIN.total_seconds())  # past the margin kept for other clocks
    began = datetime.now(UTC)
    assert sweep(since=began).state == "in_sync"  # lists the cluster
    scale = {"spec": {"replicas": 5}}
    emulated.call(lambda: emulated.emulator.objects["apps/v1/deployments", "shop", "catalogue"].patch(scale))
    assert sweep(since=began).state == "in_sync"  # the same sweep: what it listed when it began

    # A deployment after the listing: the environment is compared with the cluster as it left it.
    commit(app_repo, {"k8s/deployment.yaml": DEPLOYMENT.replace("replicas: 2", "replicas: 3")}, "three")
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.SUCCEEDED, second.error
    assert sweep(since=began).state == "in_sync"
    emulated.call(lambda: emulated.emulator.objects["apps/v1/deployments", "shop", "catalogue"].patch(scale))
    drifted = sweep(since=datetime.now(UTC))  # the next sweep
    assert {(i.kind, i.object, i.path) for i in drifted.items} == {
        ("modified", "Deployment/shop/catalogue", "spec.replicas")
    }


async def test_an_extra_marked_object_is_unexpected_and_an_ignore_path_suppresses_a_field(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    emulated: EmulatedCluster,
    sweep: Sweep,
) -> None:
    ignoring = MANIFEST.replace(
        "    health: {timeout: 10s, interval: 100ms}",
        "    drift: {ignore: ['Deployment/shop/catalogue:spec.replicas']}\n"
        "    health: {timeout: 10s, interval: 100ms}",
    )
    commit(app_repo, {"lockstep.yaml": ignoring}, "replicas belong to an autoscaler")
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    emulated.call(
        lambda: emulated.emulator.objects["apps/v1/deployments", "shop", "catalogue"].patch(
            {"spec": {"replicas": 5}}
        )
    )
    target = settings.targets["k8s-test"]
    assert isinstance(target, KubernetesTargetSettings)
    copy = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flags-copy", "namespace": "shop"}}
    connect_kubernetes(target).apply(marked(copy, "shop/staging/catalogue"))  # someone copied one
    unrelated = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs", "namespace": "shop"}}
    connect_kubernetes(target).apply(marked(unrelated, "shop/production/catalogue"))

    found = sweep(since=datetime.now(UTC))
    assert {(i.kind, i.object, i.path, i.decision) for i in found.items} == {
        ("modified", "Deployment/shop/catalogue", "spec.replicas", "ignore"),
        ("unexpected", "ConfigMap/shop/flags-copy", "", "flag"),
    }
    assert found.state == "drifted"
    assert emulated.live("v1/configmaps", "shop", "flags-copy") is not None  # the sweep only looks
