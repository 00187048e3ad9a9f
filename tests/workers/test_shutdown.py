"""SIGTERM to a real `lockstep worker` mid-deployment: the activity in flight finishes on that
worker (no cancellation, no second attempt), the process then exits 0, and a new worker takes the
deployment to `succeeded`. The worker serves its metrics at the configured address meanwhile.
A second SIGTERM does not wait: the worker kills the commands it runs on targets and exits."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
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
from tests.support.fixtures import terminate_running
from tests.support.metrics import samples, scrape_until
from tests.workflows.helpers import current, runs

pytestmark = [pytest.mark.temporal, pytest.mark.store]


@dataclass
class Stack:
    config: Path
    log: Path
    listen: str  # the worker's metrics address
    sha: str


@pytest.fixture
def stack(
    settings: Settings, app_repo: Path, counters: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Stack:
    """A commit whose api deploy command writes `api`, sleeps `request.param` seconds, then
    writes `api-done` (only if it ran to its end); a worker configuration for it."""
    manifest = (app_repo / "lockstep.yaml").read_text()
    started = f"echo $LOCKSTEP_COMMIT >> {counters}/api"
    slow = f"{started}; sleep {request.param}; echo $LOCKSTEP_COMMIT >> {counters}/api-done"
    sha = commit(app_repo, {"lockstep.yaml": manifest.replace(started, slow)}, "slow api")
    listen = f"127.0.0.1:{free_port()}"
    config = tmp_path / "lockstep-server.yaml"
    data = settings.model_dump(mode="json")
    # Shorter than the command's sleep: a worker that stopped heartbeating while it shuts down
    # would have the activity timed out and retried, which the attempt count would show.
    data["deployment"]["heartbeat_timeout"] = "2s"
    data["temporal"] |= {"metrics_listen": listen, "shutdown_timeout": "60s"}
    for repository in data["repositories"]:  # webhook-fed: the worker schedules no polling here
        repository["webhook_secret_env"] = "LOCKSTEP_TEST_UNUSED_SECRET"
    config.write_text(yaml.safe_dump(data))
    return Stack(config, tmp_path / "worker.log", listen, sha)


def _start_worker(stack: Stack) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "lockstep", "worker"],
        env={**os.environ, "LOCKSTEP_CONFIG": str(stack.config)},
        stdout=stack.log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


async def _deploy_until_api_runs(
    worker: subprocess.Popen[bytes],
    stack: Stack,
    env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    counters: Path,
) -> str:
    started = await start_deployment(
        client=env.client, settings=settings, store=store, git=git, application="shop", environment="staging"
    )
    deadline = time.monotonic() + 60
    while runs(counters, "api") == []:  # db is done, api's deploy command is running
        assert worker.poll() is None, stack.log.read_text()
        assert time.monotonic() < deadline, stack.log.read_text()
        await asyncio.sleep(0.05)
    return started.id


@pytest.mark.parametrize("stack", [4], indirect=True)
async def test_sigterm_lets_the_deploy_in_flight_finish(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    target_root: Path,
    counters: Path,
    stack: Stack,
) -> None:
    first = _start_worker(stack)
    second: subprocess.Popen[bytes] | None = None
    try:
        deployment_id = await _deploy_until_api_runs(
            first, stack, temporal_env, settings, store, git, counters
        )
        scraped = await scrape_until(
            stack.listen, lambda text: bool(samples(text, "temporal_worker_task_slots_used"))
        )
        assert any(
            labels.get("worker_type") == "ActivityWorker" and value >= 1
            for labels, value in samples(scraped, "temporal_worker_task_slots_used")
        ), scraped

        os.kill(first.pid, signal.SIGTERM)  # the process alone, as Kubernetes or Docker send it
        assert await asyncio.to_thread(first.wait, 60) == 0, stack.log.read_text()
        assert runs(counters, "api-done") == [stack.sha], "the deploy command did not run to its end"
        assert "SIGTERM: taking no new work" in stack.log.read_text()

        second = _start_worker(stack)
        result = await asyncio.wait_for(
            temporal_env.client.get_workflow_handle(deployment_id, result_type=DeploymentResult).result(), 120
        )
    finally:
        _stop(first)
        if second is not None:
            second.send_signal(signal.SIGTERM)
            await asyncio.to_thread(second.wait, 30)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    assert runs(counters, "api") == [stack.sha], "the deploy in flight ran again"
    for component in ("db", "api", "web"):
        assert current(target_root, component) == stack.sha
    with store.session() as session:
        steps = {(s.component, s.action): s for s in steps_for(session=session, deployment_id=deployment_id)}
    assert steps[("api", "deploy")].attempt == 1
    assert all(s.status == StepStatus.SUCCEEDED for s in steps.values())


# The command outlives the test by a few seconds (its own session: the worker's exit leaves it).
@pytest.mark.parametrize("stack", [15], indirect=True)
async def test_a_second_sigterm_stops_the_worker_at_once(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    counters: Path,
    stack: Stack,
) -> None:
    worker = _start_worker(stack)
    try:
        await _deploy_until_api_runs(worker, stack, temporal_env, settings, store, git, counters)
        os.kill(worker.pid, signal.SIGTERM)
        log = stack.log
        deadline = time.monotonic() + 30
        while "SIGTERM: taking no new work" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            await asyncio.sleep(0.05)
        os.kill(worker.pid, signal.SIGTERM)
        code = await asyncio.to_thread(worker.wait, 60)
        # The deploy command was killed with the worker: it does not finish its sleep later.
        await asyncio.sleep(5)
        unfinished = runs(counters, "api-done") == []
    finally:
        _stop(worker)
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert code == 128 + signal.SIGTERM, log.read_text()
    assert "SIGTERM again: stopping at once" in log.read_text()
    assert "Traceback" not in log.read_text()
    assert unfinished
