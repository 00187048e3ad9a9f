"""A lane still on the update-driven protocol hands over to the signalled one (issue 13, item 8).

The legacy run is made by today's code with the `signalled-lane` patch left inactive (the SDK's
patch activation callback), which is the branch a run started before that patch replays on.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PatchActivationInput, Worker

from lockstep.domain.ids import legacy_lane_id
from lockstep.domain.lane_messages import LaneInput, LaneRequest
from lockstep.domain.temporal_names import LANE_WORKFLOW
from lockstep.orchestration.handover import hand_over_lanes
from lockstep.settings import Settings
from tests.support.fixtures import terminate_running
from tests.workflows.helpers import record_history
from workers.main import build_worker
from workflows.lane import SIGNALLED_LANE, EnvironmentLane

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def _legacy(patch: PatchActivationInput) -> bool:
    return patch.patch_id != SIGNALLED_LANE


async def _has_event(handle: WorkflowHandle[object, object], kind: EventType.ValueType) -> bool:
    return any([e.event_type == kind async for e in handle.fetch_history_events()])


async def test_an_idle_update_driven_lane_continues_as_a_signalled_one_when_a_worker_starts(
    temporal_env: WorkflowEnvironment, settings: Settings, app_repo: Path
) -> None:
    client, queue = temporal_env.client, settings.temporal.task_queue
    application = f"handover-{uuid.uuid4().hex[:8]}"
    lane = LaneInput(application=application, environment="staging", repository=str(app_repo))
    # An idle lane runs no activity: the lane workflow alone is enough for its first run.
    legacy = Worker(client, task_queue=queue, workflows=[EnvironmentLane], patch_activation_callback=_legacy)
    try:
        async with legacy:
            handle = await client.start_workflow(
                LANE_WORKFLOW, lane, id=legacy_lane_id(application, "staging"), task_queue=queue
            )
            deadline = time.monotonic() + 60
            while not await _has_event(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED):
                assert time.monotonic() < deadline, "the legacy lane never ran"
                await asyncio.sleep(0.1)
        first = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        assert not await _has_event(first, EventType.EVENT_TYPE_MARKER_RECORDED), "it runs the old branch"

        async with build_worker(client, settings):  # the upgraded worker, as `lockstep worker` starts it
            deadline = time.monotonic() + 60
            while await hand_over_lanes(client, queue) == 0:  # visibility lists it a moment late
                assert time.monotonic() < deadline, "the running lane was never listed"
                await asyncio.sleep(0.2)
            while (await first.describe()).status == WorkflowExecutionStatus.RUNNING:
                assert time.monotonic() < deadline, "the legacy run never handed over"
                await asyncio.sleep(0.1)
            assert (await first.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
            successor = client.get_workflow_handle(handle.id)  # the newest run
            while not await _has_event(successor, EventType.EVENT_TYPE_MARKER_RECORDED):
                assert time.monotonic() < deadline, "the successor never took the signalled branch"
                await asyncio.sleep(0.1)  # its marker is `signalled-lane`, the only patch it asks
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await successor.execute_update(
                    "enqueue", LaneRequest(deployment_id=f"{application}-x", commit="a" * 40)
                )
            assert "signal arrive" in str(refused.value.cause), "the successor speaks the signalled protocol"
            await record_history(first, "lane-legacy-handed-over")
    finally:
        await terminate_running(temporal_env, queue)
