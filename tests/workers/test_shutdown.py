"""SIGTERM to a real `lockstep worker` mid-deployment: the activity in flight finishes on that
worker (no cancellation, no second attempt), the process then exits 0, and a new worker takes the
deployment to `succeeded`. The worker serves its metrics at the configured address meanwhile."""

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
from tests.support.api_server import free_port
from tests.support.apprepo import commit
from tests.support.metrics import samples, scrape_until
from tests.workflows.helpers import current, runs

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def _start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lockstep", "worker"],
        env={**os.environ, "LOCKSTEP_CONFIG": str(config)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


async def test_sigterm_lets_the_deploy_in_flight_finish(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
    tmp_path: Path,
) -> None:
    # api's deploy command is still sleeping when the worker is told to stop; it writes `api-done`
    # only if it ran to its end.
    manifest = (app_repo / "lockstep.yaml").read_text()
    slow = f"echo $LOCKSTEP_COMMIT >> {counters}/api; sleep 4; echo $LOCKSTEP_COMMIT >> {counters}/api-done"
    sha = commit(
        app_repo,
        {"lockstep.yaml": manifest.replace(f"echo $LOCKSTEP_COMMIT >> {counters}/api", slow)},
        "slow",
    )
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "lockstep-server.yaml"
    data = settings.model_dump(mode="json")
    # Shorter than the command's sleep: a worker that stopped heartbeating while it shuts down
    # would have the activity timed out and retried, which the attempt count below would show.
    data["deployment"]["heartbeat_timeout"] = "2s"
    data["temporal"] |= {"metrics_listen": listen, "shutdown_timeout": "60s"}
    for repository in data["repositories"]:  # webhook-fed: the worker schedules no polling here
        repository["webhook_secret_env"] = "LOCKSTEP_TEST_UNUSED_SECRET"
    config.write_text(yaml.safe_dump(data))
    log = tmp_path / "worker.log"

    first = _start_worker(config, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        started = await start_deployment(
            client=temporal_env.client,
            settings=settings,
            store=store,
            git=git,
            application="shop",
            environment="staging",
        )
        deadline = time.monotonic() + 60
        while runs(counters, "api") == []:  # db is done, api's deploy command is running
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.05)
        scraped = await scrape_until(
            listen, lambda text: bool(samples(text, "temporal_worker_task_slots_used"))
        )
        assert any(
            labels.get("worker_type") == "ActivityWorker" and value >= 1
            for labels, value in samples(scraped, "temporal_worker_task_slots_used")
        ), scraped

        os.kill(first.pid, signal.SIGTERM)  # the process alone, as Kubernetes or Docker send it
        assert await asyncio.to_thread(first.wait, 60) == 0, log.read_text()
        assert runs(counters, "api-done") == [sha], "the deploy command did not run to its end"
        assert "SIGTERM: taking no new work" in log.read_text()

        second = _start_worker(config, log)
        result = await asyncio.wait_for(
            temporal_env.client.get_workflow_handle(started.id, result_type=DeploymentResult).result(), 120
        )
    finally:
        _stop(first)
        if second is not None:
            second.send_signal(signal.SIGTERM)
            await asyncio.to_thread(second.wait, 30)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    assert runs(counters, "api") == [sha], "the deploy in flight ran again"
    for component in ("db", "api", "web"):
        assert current(target_root, component) == sha
    with store.session() as session:
        steps = {(s.component, s.action): s for s in steps_for(session=session, deployment_id=started.id)}
    assert steps[("api", "deploy")].attempt == 1
    assert all(s.status == StepStatus.SUCCEEDED for s in steps.values())
