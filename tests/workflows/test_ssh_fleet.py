"""The Deployment workflow onto a fleet of three real sshd hosts (tests/support/sshd.py).

Real Temporal dev server, real Git, real sshd: deploy to all hosts; a rolling batch of one whose
second host fails health leaves the first rolled back and the third untouched; an sshd killed
mid-deployment makes the activity retry, then the deployment compensates once the host is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.support.sshd import SshFleet, running_fleet
from tests.workflows.helpers import deploy

pytestmark = [pytest.mark.temporal, pytest.mark.store]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[SshFleet]:
    with running_fleet(tmp_path / "fleet", 3) as f:
        yield f


def _manifest(root: Path) -> str:
    """One `host` component on the ssh target: a deploy log per host, a marker-driven health
    check (`unhealthy`) and a marker-driven slow deploy (`slow`), both per host."""
    return f"""\
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
        - "if [ -e {root}/slow ]; then touch {root}/slow-started; sleep 60; fi"
        - "echo $LOCKSTEP_COMMIT >> {root}/deploys"
    health:
      commands: ["test ! -e {root}/unhealthy", "grep -q fleet index.html"]
      timeout: 2s
      interval: 200ms
"""


@pytest.fixture
def app_repo(tmp_path: Path, fleet: SshFleet) -> Path:
    repo = tmp_path / "shop"
    files: dict[str, str | None] = {
        "lockstep.yaml": _manifest(fleet.root),
        "web/index.html": "<h1>{{ greeting }}</h1>\n",
    }
    commit(repo, files, "first version")
    return repo


@pytest.fixture
def settings(settings: Settings, fleet: SshFleet) -> Settings:
    targets = dict(settings.targets) | {"ssh-test": fleet.target(batch=1)}
    return settings.model_copy(update={"targets": targets})


def _current(fleet: SshFleet, host: int) -> str | None:
    link = fleet.readlink(host, f"{fleet.root}/srv/web/current")
    return link.rsplit("/", 1)[-1] if link else None


def _deploys(fleet: SshFleet, host: int) -> list[str]:
    return (fleet.read(host, f"{fleet.root}/deploys") or "").split()


def _releases(fleet: SshFleet, host: int) -> list[str]:
    return fleet.sh(host, f"ls {fleet.root}/srv/web/releases 2>/dev/null || true").split()


async def test_deploys_to_every_host(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
) -> None:
    view = await deploy(temporal_env, settings, store, git)
    assert view.status == DeploymentStatus.SUCCEEDED, view.error
    for i in range(3):
        assert _current(fleet, i) == view.commit
        assert fleet.read(i, f"{fleet.root}/srv/web/current/index.html") == "<h1>hello fleet</h1>\n"
        assert _deploys(fleet, i) == [view.commit]
    steps = {(s.host, s.action): s.status for s in view.steps if s.component == "web"}
    for host in fleet.hosts:
        assert steps[(host.address, "deploy")] == StepStatus.SUCCEEDED
        assert steps[(host.address, "health")] == StepStatus.SUCCEEDED


async def test_second_host_failing_rolls_back_the_first_and_spares_the_third(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    app_repo: Path,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    fleet.sh(1, f"touch {fleet.root}/unhealthy")
    second_sha = commit(app_repo, {"web/index.html": "<h1>{{ greeting }} v2</h1>\n"}, "v2")
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.ROLLED_BACK
    assert second.error is not None and fleet.hosts[1].address in second.error
    assert [_current(fleet, i) for i in range(3)] == [first.commit] * 3
    # Host 1 got v2, then was put back and its deploy commands ran again; host 2 was switched
    # before its health failed, so it was put back too; host 3 never saw v2.
    assert _deploys(fleet, 0) == [first.commit, second_sha, first.commit]
    assert _deploys(fleet, 1) == [first.commit, second_sha, first.commit]
    assert _deploys(fleet, 2) == [first.commit]
    assert second_sha not in _releases(fleet, 2)
    assert fleet.read(0, f"{fleet.root}/srv/web/current/index.html") == "<h1>hello fleet</h1>\n"
    steps = {(s.host, s.action): s.status for s in second.steps if s.component == "web"}
    h1, h2, h3 = (h.address for h in fleet.hosts)
    assert steps[(h2, "health")] == StepStatus.FAILED
    assert steps[(h1, "rollback")] == StepStatus.SUCCEEDED
    assert not any(host == h3 for host, _ in steps)


async def test_killed_sshd_retries_then_compensates(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    app_repo: Path,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    fleet.sh(1, f"touch {fleet.root}/slow")
    commit(app_repo, {"web/index.html": "<h1>{{ greeting }} v2</h1>\n"}, "v2")
    started = await start_deployment(
        client=temporal_env.client,
        settings=settings,
        store=store,
        git=git,
        application="shop",
        environment="staging",
    )
    await _wait_for(lambda: _slow_deploy_running(fleet))
    fleet.kill(1)  # host 2 dies in the middle of its deploy command
    await _wait_for(lambda: _status(store, started.id) == DeploymentStatus.ROLLING_BACK, timeout=60)
    fleet.sh(1, f"rm {fleet.root}/slow")  # so the rollback's deploy commands run at full speed
    fleet.start(1)  # back (with its disk) while compensation retries
    handle = temporal_env.client.get_workflow_handle(started.id, result_type=DeploymentResult)
    result = await handle.result()
    assert result.status == DeploymentStatus.ROLLED_BACK, result.error
    # The last of the deploy attempts found the host down: the error says so, naming it.
    assert result.error is not None and f"{fleet.hosts[1].address}: cannot connect" in result.error
    assert [_current(fleet, i) for i in range(3)] == [first.commit] * 3
    assert _deploys(fleet, 2) == [first.commit]  # host 3 untouched
    history = await handle.fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert 3 in attempts, f"deploy_component should have been retried (attempts seen: {attempts})"


def _slow_deploy_running(fleet: SshFleet) -> bool:
    return fleet.sh(1, f"test -e {fleet.root}/slow-started && echo y || echo n").strip() == "y"


def _status(store: Store, deployment_id: str) -> DeploymentStatus | None:
    with store.session() as session:
        view = find_view(session, deployment_id)
    return view.status if view is not None else None


async def _wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
