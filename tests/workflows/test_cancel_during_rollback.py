"""A cancel request that arrives while compensation runs must not cut it short: every component
is still put back and the outcome is recorded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.store.steps import steps_for
from tests.support.apprepo import commit
from tests.workflows.helpers import current, deploy

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def test_cancel_while_rolling_back(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
) -> None:
    # The first release's api deploy command is slow when a marker exists: that is what the
    # rollback runs again, so the test can cancel while it runs.
    slow = f"echo $LOCKSTEP_COMMIT >> {counters}/api; if [ -f $LOCKSTEP_ROOT/slow ]; then sleep 3; fi"
    manifest = (app_repo / "lockstep.yaml").read_text()
    first_sha = commit(
        app_repo,
        {"lockstep.yaml": manifest.replace(f"echo $LOCKSTEP_COMMIT >> {counters}/api", slow)},
        "api with a slow restart",
    )
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    (target_root / "slow").touch()
    commit(
        app_repo,
        {"lockstep.yaml": manifest, "api/api.conf": "version=2\n", "web/health.sh": "exit 1\n"},
        "api v2, broken web",
    )

    started = await start_deployment(
        client=temporal_env.client,
        settings=settings,
        store=store,
        git=git,
        application="shop",
        environment="staging",
    )
    handle = temporal_env.client.get_workflow_handle(started.id, result_type=DeploymentResult)
    deadline = time.monotonic() + 60
    while True:  # wait until api's rollback (the slow one) is running, then cancel
        with store.session() as session:
            steps = {
                (s.component, s.action): s.status
                for s in steps_for(session=session, deployment_id=started.id)
            }
        if steps.get(("api", "rollback")) == StepStatus.RUNNING:
            break
        assert time.monotonic() < deadline, steps
        await asyncio.sleep(0.05)
    await handle.cancel()
    result = await handle.result()
    assert result.status == DeploymentStatus.ROLLED_BACK, result.error
    assert current(target_root, "api") == first_sha
    assert current(target_root, "web") == first_sha
    with store.session() as session:
        view = find_view(session, started.id)
    assert view is not None and view.status == DeploymentStatus.ROLLED_BACK
    assert {(s.component, s.action): s.status for s in view.steps}[
        ("api", "rollback")
    ] == StepStatus.SUCCEEDED
