"""A deployment never stays wedged: an exception in workflow code ends it `failed` with the cause
and its lane moves on (not a workflow task retried forever), and one terminated in Temporal is
recorded `failed` in the store as soon as its lane notices, instead of staying `deploying`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.lane import LaneActivities
from activities.threads import ActivityThreads
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.messages import DeploymentRequest, DeploymentResult, DeploymentTimeouts, DeploymentView
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import DEPLOYMENT_WORKFLOW
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import deployment_search_attributes, start_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from lockstep.targets.registry import TargetRegistry
from tests.support.apprepo import commit, git, three_tier_files
from tests.workflows.helpers import current, deployment_result, record_history

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def test_an_exception_in_workflow_code_fails_the_deployment_and_frees_its_lane(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
) -> None:
    sha = git(app_repo, "rev-parse", "HEAD")
    # Sent straight to Temporal, as anyone with access to it could: a timeout no timedelta holds
    # raises OverflowError inside workflow code, once the deployment has its turn in the lane.
    poisoned = DeploymentRequest(
        deployment_id=f"shop.staging.{sha[:10]}",
        application="shop",
        environment="staging",
        repository=str(app_repo),
        commit=sha,
        timeouts=DeploymentTimeouts(activity_seconds=1e20),
        lane=True,
    )
    handle: WorkflowHandle[object, DeploymentResult] = await temporal_env.client.start_workflow(
        DEPLOYMENT_WORKFLOW,
        poisoned,
        id=poisoned.deployment_id,
        task_queue=settings.temporal.task_queue,
        search_attributes=deployment_search_attributes(poisoned, DeploymentStatus.QUEUED),
        result_type=DeploymentResult,
    )
    result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == DeploymentStatus.FAILED
    assert (
        result.error is not None
        and "internal error in the Deployment workflow: OverflowError" in result.error
    )
    await record_history(handle, "deployment-internal-error")
    with store.session() as session:
        view = find_view(session, poisoned.deployment_id)
    assert (
        view is not None and view.status == DeploymentStatus.FAILED and "OverflowError" in (view.error or "")
    )
    assert current(target_root, "web") is None

    # The lane moved on: the next commit deploys.
    nxt = commit(app_repo, {"web/index.html": "<h1>{{ greeting }} again</h1>\n"}, "next")
    started = await start_deployment(
        client=temporal_env.client, settings=settings, store=store, git=GitMirrors(settings.mirrors_dir),
        application="shop", environment="staging", ref=nxt,
    )  # fmt: skip
    assert (await deployment_result(temporal_env, started.id)).status == DeploymentStatus.SUCCEEDED
    assert current(target_root, "web") == nxt


async def test_a_deployment_terminated_in_temporal_is_recorded_failed_when_its_lane_looks(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    app_repo: Path,
    counters: Path,
) -> None:
    commit(app_repo, three_tier_files(counters, api_deploy_extra="; sleep 30"), "slow api")
    started = await start_deployment(
        client=temporal_env.client, settings=settings, store=store, git=GitMirrors(settings.mirrors_dir),
        application="shop", environment="staging",
    )  # fmt: skip
    handle = temporal_env.client.get_workflow_handle(started.id)
    for _ in range(300):
        view = await handle.query("status", result_type=DeploymentView)
        if any(s.component == "api" and s.status.value == "running" for s in view.steps):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("api never started deploying")
    await handle.terminate("stuck, by hand from the Temporal UI")
    with store.session() as session:
        before = find_view(session, started.id)
    assert before is not None and not before.status.is_final, "the store cannot know by itself"

    renderer = CommitRenderer(GitMirrors(settings.mirrors_dir), TargetRegistry(settings.targets).types())
    threads = ActivityThreads(activities=1, local_activities=1)
    lanes = LaneActivities(
        client=temporal_env.client, settings=settings, store=store, renderer=renderer, threads=threads
    )
    seen = await ActivityEnvironment().run(lanes.closed_status, started.id)  # the lane's periodic look
    assert seen == DeploymentStatus.FAILED
    with store.session() as session:
        after = find_view(session, started.id)
        events = events_for(session=session, deployment_id=started.id)
    assert after is not None and after.status == DeploymentStatus.FAILED
    assert "terminated in Temporal" in (after.error or "") and "nothing was rolled back" in (
        after.error or ""
    )
    finished = [json.loads(e.detail_json) for e in events if e.kind == "finished"]
    assert finished and finished[-1]["status"] == "failed"
    assert await ActivityEnvironment().run(lanes.closed_status, started.id) == DeploymentStatus.FAILED
