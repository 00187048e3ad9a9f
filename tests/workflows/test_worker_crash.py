"""Killing the worker process mid-wave: a new worker finishes the deployment, and the steps
completed before the kill are not executed again (Temporal's durable history, not luck)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.store.steps import steps_for
from tests.support.apprepo import commit
from tests.workflows.helpers import current, runs

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def _start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LOCKSTEP_CONFIG": str(config)}
    return subprocess.Popen(
        [sys.executable, "-m", "lockstep", "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def test_worker_killed_mid_wave(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
    tmp_path: Path,
) -> None:
    manifest = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            f"echo $LOCKSTEP_COMMIT >> {counters}/api", f"echo $LOCKSTEP_COMMIT >> {counters}/api; sleep 3"
        )
    )
    sha = commit(app_repo, {"lockstep.yaml": manifest}, "slow api")
    config = tmp_path / "lockstep-server.yaml"
    data = settings.model_dump(mode="json")
    data["deployment"]["heartbeat_timeout"] = "2s"
    for repository in data["repositories"]:  # webhook-fed: the worker schedules no polling here
        repository["webhook_secret_env"] = "LOCKSTEP_TEST_UNUSED_SECRET"
    config.write_text(yaml.safe_dump(data))
    log = tmp_path / "worker.log"

    first_worker = _start_worker(config, log)
    started = await start_deployment(
        client=temporal_env.client,
        settings=settings,
        store=store,
        git=git,
        application="shop",
        environment="staging",
    )
    deadline = time.monotonic() + 60
    while runs(counters, "api") == []:  # db is done, api's deploy command is running: mid wave 2
        assert first_worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        await asyncio.sleep(0.05)
    os.killpg(first_worker.pid, signal.SIGKILL)
    first_worker.wait()

    second_worker = _start_worker(config, log)
    try:
        result = await asyncio.wait_for(
            temporal_env.client.get_workflow_handle(started.id, result_type=DeploymentResult).result(), 120
        )
    finally:
        os.killpg(second_worker.pid, signal.SIGTERM)
        second_worker.wait(timeout=30)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    assert runs(counters, "db") == [sha], "db's completed step ran again after the crash"
    assert runs(counters, "web") == [sha]
    assert len(runs(counters, "api")) in (1, 2)  # the in-flight step may run again; it converges
    for component in ("db", "api", "web"):
        assert current(target_root, component) == sha
    with store.session() as session:
        steps = {(s.component, s.action): s for s in steps_for(session=session, deployment_id=started.id)}
    assert steps[("db", "deploy")].attempt == 1
    assert all(s.status == StepStatus.SUCCEEDED for s in steps.values())
