"""A broken ssh target configuration fails a deployment at once, naming what to fix: the
activities that connect are not retried (real Temporal dev server, real Git, one real sshd)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.support.sshd import SshFleet, running_fleet

pytestmark = [pytest.mark.temporal, pytest.mark.store]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[SshFleet]:
    with running_fleet(tmp_path / "fleet", 1) as f:
        yield f


@pytest.fixture
def app_repo(tmp_path: Path, fleet: SshFleet) -> Path:
    repo = tmp_path / "shop"
    manifest = f"""\
application: shop
environments:
  - name: staging
    branch: main
    targets: {{vms: ssh-test}}
components:
  - name: web
    target: vms
    host:
      files: [{{src: web/, dest: {fleet.root}/srv/web}}]
"""
    commit(repo, {"lockstep.yaml": manifest, "web/index.html": "<h1>hi</h1>\n"}, "first version")
    return repo


@pytest.fixture(params=["malformed known_hosts line", "missing key_file"])
def broken(request: pytest.FixtureRequest, fleet: SshFleet, tmp_path: Path) -> tuple[dict[str, str], str]:
    """Target settings overrides that break it, and what the deployment's error must say."""
    if request.param == "missing key_file":
        return {"key_file": str(tmp_path / "id_gone")}, f"ssh key_file {tmp_path / 'id_gone'} does not exist"
    known = tmp_path / "known_hosts"
    known.write_text(f"{fleet.known_hosts.read_text()}junk-line\n")
    return {"known_hosts": str(known)}, f"{fleet.hosts[0].address}: {known}:2: expected host names"


@pytest.fixture
def settings(settings: Settings, fleet: SshFleet, broken: tuple[dict[str, str], str]) -> Settings:
    targets = dict(settings.targets) | {"ssh-test": fleet.target(**broken[0])}
    return settings.model_copy(update={"targets": targets})


async def test_a_broken_target_configuration_is_not_retried(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    app_repo: Path,
    broken: tuple[dict[str, str], str],
) -> None:
    started = await start_deployment(
        client=temporal_env.client,
        settings=settings,
        store=store,
        git=git,
        application="shop",
        environment="staging",
    )
    handle = temporal_env.client.get_workflow_handle(started.id, result_type=DeploymentResult)
    result = await handle.result()
    # Not which failed status: the rollback connects too, and meets the same error (the rollback
    # path decides whether a deployment that changed nothing has anything to undo).
    assert result.status != DeploymentStatus.SUCCEEDED
    assert result.error is not None and broken[1] in result.error, result.error
    attempts = await _attempts(handle)
    assert attempts["deploy_component"] == [1], attempts
    assert all(a == [1] for a in attempts.values()), f"a permanent error was retried: {attempts}"
    assert fleet.readlink(0, f"{fleet.root}/srv/web/current") is None  # nothing reached the host


async def _attempts(handle: WorkflowHandle[object, DeploymentResult]) -> dict[str, list[int]]:
    """Activity type -> the attempt number of each of its runs."""
    history = await handle.fetch_history()
    names: dict[int, str] = {}
    attempts: dict[str, list[int]] = {}
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = e.activity_task_started_event_attributes
            attempts.setdefault(names[started.scheduled_event_id], []).append(started.attempt)
    return attempts
