"""How a deployment leaves the lane it joined, on the real Temporal server, across the change to
unambiguous ids: `finished` goes to the lane the join answered; a join from before answered
nothing and reached the lane under the older id; a join cut short may have reached either.

The join is a stand-in (the real join, or the one from before, then a hang) so that a test can
cancel a deployment at that exact point; the workflows and the lane are the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.lane import LaneActivities
from activities.records import RecordActivities
from activities.threads import ActivityThreads
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.ids import deployment_id, lane_id, legacy_lane_id
from lockstep.domain.lane_messages import JoinLane, LaneView
from lockstep.domain.messages import DeploymentRequest, DeploymentResult
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import LANE_WORKFLOW
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import timeouts_from
from lockstep.orchestration.lanes import join_lane
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.fixtures import terminate_running
from tests.support.gated_apps import GatedApp, gated_app, lane_view, record_histories, unique
from workflows.deployment import DeploymentWorkflow
from workflows.lane import EnvironmentLane

pytestmark = [pytest.mark.temporal, pytest.mark.store]


@pytest_asyncio.fixture
async def cleanup(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    yield
    await terminate_running(temporal_env, settings.temporal.task_queue)


async def test_a_join_cut_short_tells_both_lanes_it_ended(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, tmp_path: Path, cleanup: None
) -> None:
    """A deployment cancelled while its join was still under way does not know which lane it
    reached (the join may have signalled one before it was cut short): it tells both, so the
    lane that gave it a turn moves on at once instead of at its next liveness check."""

    async def join_now(join: JoinLane) -> str | None:
        return await join_lane(client=temporal_env.client, settings=settings, join=join)

    app = gated_app(tmp_path, unique("shop"), "staging")
    lane = lane_id(app.name, app.environment)
    result, view = await _cancelled_after_its_turn(
        temporal_env, settings, store, app, join_now, lane, "deployment-join-cut-short"
    )
    assert (result.status, result.error) == (DeploymentStatus.CANCELLED, "cancelled while queued")
    assert view.running is None and view.recent == {result.deployment_id: DeploymentStatus.CANCELLED}


async def test_before_the_patch_a_join_cut_short_told_the_older_lane_only(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, tmp_path: Path, cleanup: None
) -> None:
    """How runs from before `unambiguous-ids` end (kept for the replay test's old branch): they
    tell the lane under the older id only, so the lane that gave the turn learns of the end at
    its next liveness check instead of at once."""

    async def join_now(join: JoinLane) -> str | None:
        return await join_lane(client=temporal_env.client, settings=settings, join=join)

    app = gated_app(tmp_path, unique("shop"), "staging")
    lane = lane_id(app.name, app.environment)
    result, view = await _cancelled_after_its_turn(
        temporal_env, settings, store, app, join_now, lane, "deployment-join-cut-short-before-ids",
        without="unambiguous-ids",
    )  # fmt: skip
    assert (result.status, result.error) == (DeploymentStatus.CANCELLED, "cancelled while queued")
    assert view.running == result.deployment_id, "not told: it waits for its liveness check"


async def test_a_deployment_that_joined_before_the_change_tells_the_older_lane(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, tmp_path: Path, cleanup: None
) -> None:
    """Joined before the upgrade (its join signalled `lane-<app>-<env>` and answered nothing),
    it ends after it: its `finished` must reach that lane, not the one under today's id."""

    async def join_as_before(join: JoinLane) -> str | None:
        await temporal_env.client.start_workflow(  # what join_lane did before unambiguous ids
            LANE_WORKFLOW,
            join.lane,
            id=legacy_lane_id(join.lane.application, join.lane.environment),
            task_queue=settings.temporal.task_queue,
            start_signal="arrive",
            start_signal_args=[join.request],
        )
        return None

    app = gated_app(tmp_path, unique("shop"), "staging")
    lane = legacy_lane_id(app.name, app.environment)
    result, view = await _cancelled_after_its_turn(
        temporal_env, settings, store, app, join_as_before, lane, None
    )
    assert result.status == DeploymentStatus.CANCELLED
    assert view.running is None and view.recent == {result.deployment_id: DeploymentStatus.CANCELLED}


async def _cancelled_after_its_turn(
    env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    app: GatedApp,
    join: Callable[[JoinLane], Awaitable[str | None]],
    lane: str,
    history: str | None,
    *,
    without: str | None = None,
) -> tuple[DeploymentResult, LaneView]:
    """Run a deployment of `app` whose join is `join` then a hang (it never answers, unless `join`
    answers None: then it answers that, as a join from before did); once `lane` gives it a turn,
    cancel it. Its result, and what the lane says after. Past its turn it would plan: planning
    holds until the cancellation, so what the lane says never depends on how fast that came."""
    sha = app.push("v1")
    hangs = True

    @activity.defn(name="join_lane")
    async def join_then_hang(request: JoinLane) -> str | None:
        answer = await join(request)
        if answer is None:  # the join from before: it answered at once
            return None
        while hangs:  # cut short by the cancellation
            await asyncio.sleep(0.1)
        return answer

    @activity.defn(name="prepare_deployment")
    async def plan_until_cancelled(request: DeploymentRequest) -> None:
        while True:
            activity.heartbeat()  # how the cancellation arrives
            await asyncio.sleep(0.1)

    request = DeploymentRequest(
        deployment_id=deployment_id(app.name, app.environment, sha),
        application=app.name,
        environment=app.environment,
        repository=str(app.repo),
        commit=sha,
        trigger="manual",
        timeouts=timeouts_from(settings),
        lane=True,
    )
    threads = ActivityThreads(activities=2, local_activities=2)
    records = RecordActivities(store=store, threads=threads)
    lanes = LaneActivities(  # the real lane activities: a new lane looks for what runs already
        client=env.client,
        settings=settings,
        store=store,
        renderer=CommitRenderer(GitMirrors(settings.mirrors_dir), {}),
        threads=threads,
    )
    async with Worker(
        env.client,
        task_queue=settings.temporal.task_queue,
        workflows=[DeploymentWorkflow, EnvironmentLane],
        activities=[
            join_then_hang,
            plan_until_cancelled,
            records.record_outcome,
            lanes.active_deployment,
            lanes.closed_status,
        ],
        # A patch switched off: the branch runs that began before it still take.
        patch_activation_callback=(lambda asked: asked.patch_id != without) if without else None,
    ):
        handle = await env.client.start_workflow(
            DeploymentWorkflow.run,
            request,
            id=request.deployment_id,
            task_queue=settings.temporal.task_queue,
            execution_timeout=timedelta(minutes=10),
        )
        await _until_running(env, lane, request.deployment_id)  # it has its turn
        await handle.cancel()
        result: DeploymentResult = await handle.result()
        hangs = False
        view = await lane_view(env, lane)
        if history is not None:
            await record_histories(env, {history: request.deployment_id})
    return result, view


async def _until_running(env: WorkflowEnvironment, lane: str, deployment: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            view = await lane_view(env, lane)
        except RPCError:  # the lane has not started yet
            view = None
        if view is not None and view.running == deployment:
            return
        assert time.monotonic() < deadline, f"{deployment} never had its turn in {lane}: {view}"
        await asyncio.sleep(0.05)
