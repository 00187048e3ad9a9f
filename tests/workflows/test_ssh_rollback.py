"""Compensation on a fleet of three real sshd hosts when one of them hangs, and a deployment the
hosts refuse before any change (real Temporal dev server, real Git, tests/support/sshd.py).

A host "hangs" the way a wedged VM does: its sshd and sessions are stopped (SIGSTOP), so TCP
connections are accepted but nothing answers. Deploys go one host at a time; the third host's
deploy waits on a marker, which lets a test pause the second host once it is fully deployed and
then fail the third host's health check.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.messages import DeploymentResult, DeploymentView
from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.cli.conftest import Cli, write_config
from tests.support.apprepo import commit
from tests.support.fixtures import terminate_running
from tests.support.sshd import SshFleet, running_fleet
from tests.workflows.helpers import deploy, record_history
from workers.main import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.store]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[SshFleet]:
    with running_fleet(tmp_path / "fleet", 3) as f:
        yield f


@pytest.fixture
def app_repo(tmp_path: Path, fleet: SshFleet) -> Path:
    root = fleet.root
    manifest = f"""\
application: shop
environments:
  - name: staging
    branch: main
    targets: {{vms: ssh-test}}
    values: {{greeting: "hello fleet"}}
components:
  - name: web
    target: vms
    host:
      files: [{{src: web/, dest: {root}/srv/web}}]
      deploy:
        - "if [ -e {root}/hold ]; then touch {root}/held; while [ -e {root}/hold ]; do sleep 0.1; done; fi"
        - "echo $LOCKSTEP_COMMIT >> {root}/deploys"
    health:
      commands: ["test ! -e {root}/unhealthy", "grep -q fleet index.html"]
      timeout: 2s
      interval: 200ms
"""
    repo = tmp_path / "shop"
    commit(repo, {"lockstep.yaml": manifest, "web/index.html": "<h1>{{ greeting }}</h1>\n"}, "v1")
    return repo


@pytest.fixture
def settings(settings: Settings, fleet: SshFleet) -> Settings:
    # A rollback keeps trying a host it cannot reach for half the activity timeout: 20 s here.
    deployment = settings.deployment.model_copy(update={"activity_timeout": timedelta(seconds=40)})
    targets = dict(settings.targets) | {"ssh-test": fleet.target(batch=1)}
    return settings.model_copy(update={"targets": targets, "deployment": deployment})


def _current(fleet: SshFleet, host: int) -> str | None:
    link = fleet.readlink(host, f"{fleet.root}/srv/web/current")
    return link.rsplit("/", 1)[-1] if link else None


def _deploys(fleet: SshFleet, host: int) -> list[str]:
    return (fleet.read(host, f"{fleet.root}/deploys") or "").split()


def _view(store: Store, deployment_id: str) -> DeploymentView:
    with store.session() as session:
        view = find_view(session, deployment_id)
    assert view is not None
    return view


def _rollback_step(view: DeploymentView, host: str) -> tuple[StepStatus, str] | None:
    for s in view.steps:
        if s.component == "web" and s.host == host and s.action == "rollback":
            return s.status, s.output or ""
    return None


def _rollback_status(store: Store, deployment_id: str, host: str) -> StepStatus | None:
    step = _rollback_step(_view(store, deployment_id), host)
    return step[0] if step else None


async def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def _fail_with_host_paused(
    env: WorkflowEnvironment, settings: Settings, store: Store, git: GitMirrors, fleet: SshFleet, repo: Path
) -> tuple[str, str, str]:
    """v1 everywhere; then v2 reaches hosts 1 and 2, host 2 hangs, host 3 fails health.
    Returns (v1, v2, the deployment id); host 2 is left paused."""
    first = await deploy(env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    root = fleet.root
    fleet.sh(2, f"touch {root}/hold")
    v2 = commit(repo, {"web/index.html": "<h1>{{ greeting }} v2</h1>\n"}, "v2")
    started = await start_deployment(
        client=env.client, settings=settings, store=store, git=git, application="shop", environment="staging"
    )
    await _wait_for(lambda: fleet.sh(2, f"test -e {root}/held && echo y || echo n").strip() == "y")
    # Host 3 deploys only after host 2 is completely done (batch 1): pausing host 2 now hangs
    # a host that runs v2, with no command of the deployment still running there.
    assert _current(fleet, 1) == v2
    fleet.pause(1)
    fleet.sh(2, f"touch {root}/unhealthy; rm {root}/hold")
    return first.commit, v2, started.id


async def test_a_hung_host_is_named_and_every_reachable_host_is_put_back(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    h1, h2, h3 = (h.address for h in fleet.hosts)
    try:
        v1, v2, deployment_id = await _fail_with_host_paused(
            temporal_env, settings, store, git, fleet, app_repo
        )
        handle = temporal_env.client.get_workflow_handle(deployment_id, result_type=DeploymentResult)
        result = await handle.result()

        assert result.status == DeploymentStatus.ROLLBACK_FAILED, result.error
        # The hosts that answer are back on v1, their deploy commands run again there.
        assert (_current(fleet, 0), _current(fleet, 1), _current(fleet, 2)) == (v1, v2, v1)
        assert _deploys(fleet, 0) == _deploys(fleet, 2) == [v1, v2, v1]
        view = _view(store, deployment_id)
        for host in (h1, h3):
            status, output = _rollback_step(view, host) or (None, "")
            assert status == StepStatus.SUCCEEDED and output.startswith(
                f"{fleet.root}/srv/web/current -> {v1}"
            )
        status, output = _rollback_step(view, h2) or (None, "")
        assert status == StepStatus.FAILED and output.startswith("unreachable: cannot connect"), output
        # The outcome names the hung host, and only it, as not rolled back.
        assert result.error is not None
        cause, _, rollback = result.error.partition("; rollback failed for ")
        assert h3 in cause and "health" in cause
        assert rollback.startswith("web: ")
        assert f"not rolled back on 1 of 3 hosts: {h2} (unreachable: " in rollback
        assert h1 not in rollback and h3 not in rollback
        assert view.error == result.error

        # What `lockstep status` shows: the reason and every host's rollback step.
        cli = Cli(config=write_config(settings, tmp_path / "lockstep-server.yaml"), cwd=tmp_path)
        shown = await cli("status", deployment_id, "--output", "json")
        assert shown.code == 0, shown.stderr
        steps = {(s["host"], s["action"]): s for s in json.loads(shown.stdout)["steps"]}
        assert steps[(h2, "rollback")]["status"] == "failed"
        assert steps[(h2, "rollback")]["output"].startswith("unreachable: cannot connect")
        assert steps[(h1, "rollback")]["status"] == steps[(h3, "rollback")]["status"] == "succeeded"
        text = await cli("status", deployment_id)
        assert "rollback_failed" in text.stdout and "unreachable: cannot connect" in text.stdout
        assert f"not rolled back on 1 of 3 hosts: {h2}" in " ".join(text.stdout.split())
    finally:
        fleet.resume(1)


async def test_a_host_that_answers_again_within_the_rollback_is_put_back_too(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    app_repo: Path,
) -> None:
    h2 = fleet.hosts[1].address
    try:
        v1, v2, deployment_id = await _fail_with_host_paused(
            temporal_env, settings, store, git, fleet, app_repo
        )
        # Resumed once the rollback has found it unreachable: a later round reaches it.
        await _wait_for(lambda: _rollback_status(store, deployment_id, h2) == StepStatus.FAILED)
    finally:
        fleet.resume(1)
    result = await temporal_env.client.get_workflow_handle(
        deployment_id, result_type=DeploymentResult
    ).result()

    assert result.status == DeploymentStatus.ROLLED_BACK, result.error
    assert [_current(fleet, i) for i in range(3)] == [v1, v1, v1]
    assert _deploys(fleet, 1) == [v1, v2, v1]
    status, output = _rollback_step(_view(store, deployment_id), h2) or (None, "")
    assert status == StepStatus.SUCCEEDED and output.startswith(f"{fleet.root}/srv/web/current -> {v1}")


async def test_a_deployment_refused_before_any_change_fails_with_the_reason(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    targets = dict(settings.targets) | {"ssh-test": fleet.target(known_hosts=str(empty))}
    refusing = settings.model_copy(update={"targets": targets})

    async with build_worker(temporal_env.client, refusing):
        view = await deploy(temporal_env, refusing, store, git)
        await record_history(
            temporal_env.client.get_workflow_handle(view.id), "deployment-failed-nothing-to-undo"
        )
    await terminate_running(temporal_env, refusing.temporal.task_queue)

    assert view.status == DeploymentStatus.FAILED, view.error
    assert view.error is not None and "host key unknown" in view.error and str(empty) in view.error
    # Every host refused: each has its failed deploy step saying so, and nothing was rolled back
    # because nothing had changed (no rollback step, no file on any host).
    steps = {(s.host, s.action): s for s in view.steps}
    assert {action for _, action in steps} == {"deploy"}
    for host in fleet.hosts:
        step = steps[(host.address, "deploy")]
        assert step.status == StepStatus.FAILED
        assert (step.output or "").startswith("host key unknown: ") and str(empty) in (step.output or "")
        assert fleet.sh(host.index, f"ls {fleet.root}") == ""
    await record_history(
        temporal_env.client.get_workflow_handle(view.id), "deployment-failed-nothing-to-undo"
    )

    cli = Cli(config=write_config(refusing, tmp_path / "lockstep-server.yaml"), cwd=tmp_path)
    text = await cli("status", view.id)
    assert text.code == 0, text.stderr
    assert "failed" in text.stdout and "rolled_back" not in text.stdout
    assert "host key unknown" in text.stdout
