"""Each deploy and rollback step keeps the change set its activity returned, and the view
`lockstep status` and `GET /deployments/{id}` are built from shows it: real Temporal and worker,
real Git, a local host target and kmock's Kubernetes emulator (tests/support/kube.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.kube_objects import KubeObject
from lockstep.domain.messages import DeploymentView, StepChanges
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import KubernetesTargetSettings, Settings
from lockstep.store.engine import Store
from lockstep.targets.kubernetes import connect_kubernetes
from tests.support.apprepo import commit
from tests.support.kube import EmulatedCluster, rolling_cluster
from tests.workflows.helpers import deploy

pytestmark = [pytest.mark.temporal, pytest.mark.store]

MANIFEST = """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {cluster: k8s-test, site: local-test}
components:
  - name: catalogue
    target: cluster
    kubernetes: {manifests: k8s/}
    health: {timeout: 10s, interval: 100ms}
  - name: web
    target: site
    depends_on: [catalogue]
    host: {files: [{src: web/, dest: /srv/web}]}
    health: {commands: ["sh ./health.sh"], timeout: 1s, interval: 100ms}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalogue}
spec:
  replicas: REPLICAS
  template: {spec: {containers: [{name: c, image: "weaveworksdemos/catalogue:0.3.5"}]}}
"""
SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: catalogue}\nspec: {ports: [{port: 80}]}\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: catalogue-flags}\ndata: {beta: 'on'}\n"


@pytest.fixture
def emulated() -> Iterator[EmulatedCluster]:
    with rolling_cluster() as cluster:
        yield cluster


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    files = {
        "lockstep.yaml": MANIFEST,
        "k8s/deployment.yaml": DEPLOYMENT.replace("REPLICAS", "2"),
        "k8s/service.yaml": SERVICE,
        "web/index.html": "<h1>shop</h1>\n",
        "web/health.sh": "exit 0\n",
    }
    commit(repo, files, "first version")
    return repo


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, emulated: EmulatedCluster) -> Settings:
    raw = settings.model_dump()
    raw["targets"] |= {"k8s-test": emulated.target(tmp_path / "kubeconfig")}
    return Settings(**raw)


def _changes(view: DeploymentView, component: str, host: str, action: str) -> StepChanges | None:
    [step] = [s for s in view.steps if (s.component, s.host, s.action) == (component, host, action)]
    return step.changes


def _actions(changes: StepChanges | None) -> dict[str, str]:
    assert changes is not None
    return {item.subject: item.action.value for item in changes.items}


async def test_deploy_and_rollback_steps_show_their_change_sets(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    catalogue = _changes(first, "catalogue", "", "deploy")
    assert _actions(catalogue) == {
        "Deployment/shop/catalogue": "created",
        "Service/shop/catalogue": "created",
    }
    assert catalogue is not None and catalogue.summary == "2 created"
    # A host's change set lands on that host's deploy step (the local target's one host).
    web = _changes(first, "web", "local", "deploy")
    assert _actions(web) == {"/srv/web/health.sh": "created", "/srv/web/index.html": "created"}
    assert web is not None and web.summary == "2 created"
    assert _changes(first, "web", "local", "health") is None
    assert _changes(first, "catalogue", "", "health") is None

    # A new object and a changed one; web's health then fails, so both components roll back.
    commit(
        app_repo,
        {
            "k8s/flags.yaml": CONFIGMAP,
            "k8s/deployment.yaml": DEPLOYMENT.replace("REPLICAS", "5"),
            "web/health.sh": "exit 1\n",
        },
        "catalogue flags, broken web",
    )
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.ROLLED_BACK, second.error
    assert _actions(_changes(second, "catalogue", "", "deploy")) == {
        "ConfigMap/shop/catalogue-flags": "created",
        "Deployment/shop/catalogue": "configured",
        "Service/shop/catalogue": "unchanged",
    }
    assert _actions(_changes(second, "catalogue", "", "rollback")) == {
        "ConfigMap/shop/catalogue-flags": "deleted",
        "Deployment/shop/catalogue": "configured",
        "Service/shop/catalogue": "unchanged",
    }
    assert _changes(second, "web", "local", "deploy") is None, "its deploy failed: nothing returned"
    web_back = _changes(second, "web", "local", "rollback")
    assert _actions(web_back) == {"/srv/web/current": "configured"}
    assert web_back is not None
    assert web_back.items[0].summary == f"-> {first.commit}; deploy commands of {first.commit[:12]} run again"


async def test_a_deployment_prunes_an_object_its_component_dropped(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    emulated: EmulatedCluster,
) -> None:
    commit(app_repo, {"k8s/flags.yaml": CONFIGMAP}, "catalogue flags")
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    flags = emulated.live("v1/configmaps", "shop", "catalogue-flags")
    assert flags is not None
    assert flags["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "lockstep"}
    assert flags["metadata"]["annotations"] == {"lockstep.io/owner": "shop/staging/catalogue"}
    # Another component took the flags over (its owner annotation names it): not catalogue's to prune.
    emulated.call(
        lambda: emulated.emulator.objects["v1/configmaps", "shop", "catalogue-flags"].patch(
            {"metadata": {"annotations": {"lockstep.io/owner": "shop/staging/web"}}}
        )
    )
    # Not Lockstep's: on the cluster before any deployment named it, so never pruned.
    target = settings.targets["k8s-test"]
    assert isinstance(target, KubernetesTargetSettings)
    cluster = connect_kubernetes(target)
    try:
        theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs"}, "data": {"a": "b"}}
        cluster.apply(cast(KubeObject, theirs))
    finally:
        cluster.close()

    (app_repo / "k8s/service.yaml").unlink()
    (app_repo / "k8s/flags.yaml").unlink()
    commit(app_repo, {"k8s/deployment.yaml": DEPLOYMENT.replace("REPLICAS", "3")}, "no service, no flags")
    second = await deploy(temporal_env, settings, store, git)

    assert second.status == DeploymentStatus.SUCCEEDED, second.error
    changes = _changes(second, "catalogue", "", "deploy")
    assert _actions(changes) == {
        "Deployment/shop/catalogue": "configured",
        "Service/shop/catalogue": "deleted",
        "ConfigMap/shop/catalogue-flags": "unchanged",
    }
    assert changes is not None and changes.items[-1].summary == (
        "no longer in the component; not pruned (lockstep.io/owner names shop/staging/web)"
    )
    [kept] = [s for s in second.steps if s.host == "ConfigMap/shop/catalogue-flags" and s.action == "deploy"]
    assert kept.output == "not pruned: lockstep.io/owner names shop/staging/web"
    assert emulated.live("v1/services", "shop", "catalogue") is None
    assert emulated.live("v1/configmaps", "shop", "catalogue-flags") is not None
    assert emulated.live("v1/configmaps", "shop", "theirs") is not None


async def test_a_cluster_that_cannot_be_reached_fails_the_step_and_needs_no_rollback(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    # The worker reads this same configuration object: the cluster's kubeconfig is not there.
    target = settings.targets["k8s-test"]
    assert isinstance(target, KubernetesTargetSettings)
    object.__setattr__(target, "kubeconfig", str(tmp_path / "no-such-kubeconfig"))

    view = await deploy(temporal_env, settings, store, git)

    assert view.status == DeploymentStatus.FAILED, view.error  # nothing changed: nothing to undo
    [step] = [s for s in view.steps if (s.component, s.host, s.action) == ("catalogue", "", "deploy")]
    assert step.status.value == "failed" and "no-such-kubeconfig" in (step.output or "")
    assert not [s for s in view.steps if s.action == "rollback" and s.status.value == "failed"]
