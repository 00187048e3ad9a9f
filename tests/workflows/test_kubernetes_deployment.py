"""A kubernetes component and a dependent host component through the Deployment workflow: real
Temporal, real Git, the real `kubernetes` client against kmock's KubernetesEmulator (taught
server-side apply, tests/support/kube.py), rollout health driven by setting status in it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.store.inventory import inventory
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
    values: {replicas: "2"}
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
  replicas: {{ replicas }}
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
        "k8s/deployment.yaml": DEPLOYMENT,
        "k8s/service.yaml": SERVICE,
        "web/index.html": "<h1>shop</h1>\n",
        "web/health.sh": "exit 0\n",
    }
    commit(repo, files, "first version")
    return repo


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, emulated: EmulatedCluster) -> Settings:
    raw = settings.model_dump()  # validated again: the new targets are plain mappings
    raw["targets"] |= {"k8s-test": emulated.target(tmp_path / "kubeconfig")}
    return Settings(**raw)


async def test_kubernetes_component_deploys_and_rolls_back(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    emulated: EmulatedCluster,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    assert first.plan.waves == [["catalogue"], ["web"]]
    live = emulated.live("apps/v1/deployments", "shop", "catalogue")
    assert live is not None and live["spec"]["replicas"] == 2
    assert emulated.live("v1/services", "shop", "catalogue") is not None
    steps = {(s.component, s.action): s.status for s in first.steps}
    assert steps[("catalogue", "deploy")] == StepStatus.SUCCEEDED
    assert steps[("catalogue", "health")] == StepStatus.SUCCEEDED
    with store.session() as session:
        rows = inventory(session=session, deployment_id=first.id, component="catalogue")
    assert sorted((r.kind, r.namespace, r.name, r.created) for r in rows) == [
        ("Deployment", "shop", "catalogue", True),
        ("Service", "shop", "catalogue", True),
    ]

    # A new object and a changed one; web's health then fails, so both components roll back.
    commit(
        app_repo,
        {
            "k8s/flags.yaml": CONFIGMAP,
            "k8s/deployment.yaml": DEPLOYMENT.replace("{{ replicas }}", "5"),
            "web/health.sh": "exit 1\n",
        },
        "catalogue flags, broken web",
    )
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.ROLLED_BACK, second.error
    assert second.error is not None and second.error.startswith("web: ")
    assert emulated.live("v1/configmaps", "shop", "catalogue-flags") is None, "the created object is deleted"
    restored = emulated.live("apps/v1/deployments", "shop", "catalogue")
    assert restored is not None and restored["spec"]["replicas"] == 2, "the previous revision is re-applied"
    steps = {(s.component, s.action): s.status for s in second.steps}
    assert steps[("catalogue", "rollback")] == StepStatus.SUCCEEDED
    assert steps[("web", "health")] == StepStatus.FAILED


async def test_unhealthy_rollout_names_the_object_and_deletes_what_it_created(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    emulated: EmulatedCluster,
) -> None:
    job = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\n"
        "spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: 'migrate:1'}]}}}\n"
    )
    commit(app_repo, {"k8s/job.yaml": job}, "a migration job")

    def fail_job() -> None:
        emulated.set_status(
            "batch/v1/jobs",
            "shop",
            "migrate",
            {
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": "backoff limit",
                    }
                ]
            },
        )

    stop = threading.Event()

    def fail_when_created() -> None:
        while not stop.wait(0.05):
            if emulated.live("batch/v1/jobs", "shop", "migrate") is not None:
                fail_job()
                return

    watcher = threading.Thread(target=fail_when_created, daemon=True)
    watcher.start()
    view = await deploy(temporal_env, settings, store, git)
    stop.set()
    watcher.join()
    assert view.status == DeploymentStatus.ROLLED_BACK
    assert view.error is not None and "Job/shop/migrate is failed (backoff limit)" in view.error
    for resource, name in (
        ("batch/v1/jobs", "migrate"),
        ("apps/v1/deployments", "catalogue"),
        ("v1/services", "catalogue"),
    ):
        assert emulated.live(resource, "shop", name) is None, (
            f"{resource} {name} was created, so it is deleted"
        )
