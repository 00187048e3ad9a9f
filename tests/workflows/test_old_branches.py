"""The old branch of a patch, run on purpose: what a deployment that began before the patch does.

Today's code with one patch left inactive (the SDK's patch activation callback) takes the branch
that runs started before that patch replay on. Each test asserts that older behaviour and saves
its history (LOCKSTEP_RECORD_HISTORIES=1), so the replay test covers both branches of the patch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PatchActivationInput

from lockstep.domain.messages import DeploymentRequest, DeploymentTimeouts
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import DEPLOYMENT_WORKFLOW
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import deployment_search_attributes
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit, git
from tests.support.fixtures import terminate_running
from tests.workflows.helpers import current, deployment_result, record_history
from tests.workflows.test_approvals import _awaiting, _with_environment
from tests.workflows.test_change_authors import _decide, _start
from tests.workflows.test_promotion_rule import _enqueue, _with_uat, uat_settings
from workers.main import build_worker
from workflows.deployment import FAIL_CLEANLY, PROMOTE_FROM, RULES_CHANGED

pytestmark = [pytest.mark.temporal, pytest.mark.store]
__all__ = ["uat_settings"]  # a fixture these tests use


def _without(patch: str) -> Callable[[PatchActivationInput], bool]:
    return lambda asked: asked.patch_id != patch


@pytest_asyncio.fixture
async def before_promote_from(
    temporal_env: WorkflowEnvironment, uat_settings: Settings
) -> AsyncIterator[None]:
    async with build_worker(
        temporal_env.client, uat_settings, patch_activation_callback=_without(PROMOTE_FROM)
    ):
        yield
    await terminate_running(temporal_env, uat_settings.temporal.task_queue)


@pytest_asyncio.fixture
async def before_rules_changed(
    temporal_env: WorkflowEnvironment, gated_settings: Settings
) -> AsyncIterator[None]:
    async with build_worker(
        temporal_env.client, gated_settings, patch_activation_callback=_without(RULES_CHANGED)
    ):
        yield
    await terminate_running(temporal_env, gated_settings.temporal.task_queue)


async def test_before_promote_from_a_commit_new_to_staging_deploys_to_uat(
    temporal_env: WorkflowEnvironment,
    before_promote_from: None,
    uat_settings: Settings,
    store: Store,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    sha = _with_uat(app_repo)
    queued = await _enqueue(temporal_env, uat_settings, store, app_repo, sha, "uat", "manual")
    result = await deployment_result(temporal_env, queued.deployment_id)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error  # the rule was not enforced
    assert current(tmp_path / "uat", "web") == sha
    await record_history(
        temporal_env.client.get_workflow_handle(queued.deployment_id), "deployment-promote-from-not-enforced"
    )


async def test_before_rules_changed_a_commit_that_only_changes_the_rules_is_not_governed(
    temporal_env: WorkflowEnvironment,
    before_rules_changed: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers], timeout: 1h}")
    handle = await _start(temporal_env, gated_settings, store, git)
    await _awaiting(handle)
    assert (await _decide(handle, "alice")).counted
    assert (await handle.result()).status == DeploymentStatus.SUCCEEDED
    loosened = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            "{required: 1, groups: [release-managers], timeout: 1h}", "{required: 0, groups: [developers]}"
        )
    )
    commit(app_repo, {"lockstep.yaml": loosened}, "let developers approve uat")
    handle = await _start(temporal_env, gated_settings, store, git)
    result = await handle.result()  # no approval asked: the old gap the patch closed
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    with store.session() as session:
        view = find_view(session, handle.id)
    assert view is not None and not view.approvals_required and not view.approvals, "nobody was asked"
    await record_history(handle, "deployment-rules-changed-not-governed")


async def test_before_fail_cleanly_an_exception_in_workflow_code_fails_its_task_over_and_over(
    temporal_env: WorkflowEnvironment, settings: Settings, app_repo: Path
) -> None:
    sha = git(app_repo, "rev-parse", "HEAD")
    # As in test_failure_modes: a timeout no timedelta holds raises OverflowError in workflow code.
    poisoned = DeploymentRequest(
        deployment_id=f"shop-staging-{sha[:10]}",
        application="shop",
        environment="staging",
        repository=str(app_repo),
        commit=sha,
        timeouts=DeploymentTimeouts(activity_seconds=1e20),
        lane=True,
    )
    try:
        async with build_worker(
            temporal_env.client, settings, patch_activation_callback=_without(FAIL_CLEANLY)
        ):
            handle = await temporal_env.client.start_workflow(
                DEPLOYMENT_WORKFLOW,
                poisoned,
                id=poisoned.deployment_id,
                task_queue=settings.temporal.task_queue,
                search_attributes=deployment_search_attributes(poisoned, DeploymentStatus.QUEUED),
            )
            deadline = time.monotonic() + 60
            while not any(
                [
                    e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                    async for e in handle.fetch_history_events()
                ]
            ):
                assert time.monotonic() < deadline, "its workflow task never failed"
                await asyncio.sleep(0.2)
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING, "it never ends"
            await handle.terminate("the old branch never ends by itself")
            await record_history(handle, "deployment-internal-error-task-fails")
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
