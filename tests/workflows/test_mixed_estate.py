"""One manifest across a Kubernetes cluster and a fleet of VMs (issue 5, "done when").

A `kubernetes` component (real `kubernetes` client against the emulator of tests/support/kube.py)
and a dependent `host` component on an `ssh` target (three real sshd hosts, tests/support/sshd.py)
deploy in dependency order through the real Temporal dev server; when the host component's
health fails on one host, both are rolled back; `lockstep status` shows the state per host and
per Kubernetes object.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.support.kube import EmulatedCluster, rolling_cluster
from tests.support.sshd import SshFleet, running_fleet
from tests.workflows.helpers import deploy
from tests.workflows.test_kubernetes_deployment import CONFIGMAP, DEPLOYMENT, SERVICE

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def _manifest(root: Path) -> str:
    return f"""\
application: shop
environments:
  - name: staging
    branch: main
    targets: {{cluster: k8s-test, vms: ssh-test}}
    values: {{replicas: "2", greeting: "hello estate"}}
components:
  - name: catalogue
    target: cluster
    kubernetes: {{manifests: k8s/}}
    health: {{timeout: 10s, interval: 100ms}}
  - name: web
    target: vms
    depends_on: [catalogue]
    host:
      files: [{{src: web/, dest: {root}/srv/web}}]
      deploy: ["echo $LOCKSTEP_COMMIT >> {root}/deploys"]
    health:
      commands: ["test ! -e {root}/unhealthy"]
      timeout: 2s
      interval: 200ms
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[SshFleet]:
    with running_fleet(tmp_path / "fleet", 3) as f:
        yield f


@pytest.fixture
def emulated() -> Iterator[EmulatedCluster]:
    with rolling_cluster() as cluster:
        yield cluster


@pytest.fixture
def app_repo(tmp_path: Path, fleet: SshFleet) -> Path:
    repo = tmp_path / "shop"
    files: dict[str, str | None] = {
        "lockstep.yaml": _manifest(fleet.root),
        "k8s/deployment.yaml": DEPLOYMENT,
        "k8s/service.yaml": SERVICE,
        "web/index.html": "<h1>{{ greeting }}</h1>\n",
    }
    commit(repo, files, "first version")
    return repo


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, fleet: SshFleet, emulated: EmulatedCluster) -> Settings:
    raw = settings.model_dump()  # validated again: the new targets are plain mappings
    raw["targets"] |= {
        "k8s-test": emulated.target(tmp_path / "kubeconfig"),
        "ssh-test": fleet.target(batch=1).model_dump(),
    }
    return Settings(**raw)


def _current(fleet: SshFleet, host: int) -> str | None:
    link = fleet.readlink(host, f"{fleet.root}/srv/web/current")
    return link.rsplit("/", 1)[-1] if link else None


async def _status_json(settings: Settings, tmp_path: Path, deployment_id: str) -> dict[str, object]:
    config = tmp_path / "lockstep-server.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lockstep", "status", deployment_id, "--output", "json",
        env={**os.environ, "LOCKSTEP_CONFIG": str(config)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    shown: dict[str, object] = json.loads(out)
    return shown


async def test_cluster_and_fleet_deploy_in_order_and_roll_back_together(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    fleet: SshFleet,
    emulated: EmulatedCluster,
    tmp_path: Path,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    assert first.plan.waves == [["catalogue"], ["web"]], "the cluster first, then the VMs that need it"
    assert [_current(fleet, i) for i in range(3)] == [first.commit] * 3
    live = emulated.live("apps/v1/deployments", "shop", "catalogue")
    assert live is not None and live["spec"]["replicas"] == 2

    fleet.sh(1, f"touch {fleet.root}/unhealthy")  # the second VM will fail its health check
    commit(
        app_repo,
        {
            "k8s/flags.yaml": CONFIGMAP,
            "k8s/deployment.yaml": DEPLOYMENT.replace("{{ replicas }}", "5"),
            "web/index.html": "<h1>{{ greeting }} v2</h1>\n",
        },
        "v2 everywhere",
    )
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.ROLLED_BACK, second.error
    assert second.error is not None and fleet.hosts[1].address in second.error
    assert [_current(fleet, i) for i in range(3)] == [first.commit] * 3, "every VM back on v1"
    restored = emulated.live("apps/v1/deployments", "shop", "catalogue")
    assert restored is not None and restored["spec"]["replicas"] == 2, "the cluster back on v1"
    assert emulated.live("v1/configmaps", "shop", "catalogue-flags") is None, "what v2 created is gone"

    shown = await _status_json(settings, tmp_path, second.id)
    assert shown["status"] == "rolled_back"
    steps = shown["steps"]
    assert isinstance(steps, list)
    by_host = {(s["component"], s["host"], s["action"]): s["status"] for s in steps}
    h1, h2, h3 = (h.address for h in fleet.hosts)
    assert by_host[("web", h2, "health")] == StepStatus.FAILED.value
    assert by_host[("web", h1, "rollback")] == StepStatus.SUCCEEDED.value
    assert not any(host == h3 for _, host, _ in by_host), "the third VM was never touched"
    objects = {host for component, host, _ in by_host if component == "catalogue" and host}
    assert {
        "Deployment/shop/catalogue",
        "Service/shop/catalogue",
        "ConfigMap/shop/catalogue-flags",
    } <= objects, "lockstep status names each Kubernetes object"
