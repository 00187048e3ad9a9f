"""The Schedule `lockstep-drift-sweep` on the real Temporal server: created with the configured
interval, never two sweeps at once, paused while `drift.enabled` is false, and an operator's own
pause kept when the configuration is applied again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.sweep_messages import DRIFT_SCHEDULE_ID, SweepInput
from lockstep.orchestration.drift_sweep import DISABLED_NOTE, ensure_drift_schedule
from lockstep.settings import Settings

pytestmark = [pytest.mark.temporal]


@pytest_asyncio.fixture
async def client(temporal_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    yield temporal_env.client
    with contextlib.suppress(RPCError):  # one id per cluster: leave none for the next test
        await temporal_env.client.get_schedule_handle(DRIFT_SCHEDULE_ID).delete()


def _with(settings: Settings, **drift: object) -> Settings:
    raw = settings.model_dump()
    raw["drift"] = {**raw["drift"], **drift}
    return Settings(**raw)


async def test_the_schedule_sweeps_every_interval_and_never_twice_at_once(
    client: Client, settings: Settings
) -> None:
    configured = _with(settings, interval="10m", concurrency=7)
    assert await ensure_drift_schedule(client, configured) == DRIFT_SCHEDULE_ID
    assert await ensure_drift_schedule(client, configured) == DRIFT_SCHEDULE_ID  # idempotent
    schedule = (await client.get_schedule_handle(DRIFT_SCHEDULE_ID).describe()).schedule
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=10)]
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert not schedule.state.paused
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "DriftSweep" and action.task_queue == settings.temporal.task_queue
    [argument] = await client.data_converter.decode(action.args, [SweepInput])
    assert argument.concurrency == 7


async def test_the_default_interval_is_five_minutes(client: Client, settings: Settings) -> None:
    await ensure_drift_schedule(client, settings)
    schedule = (await client.get_schedule_handle(DRIFT_SCHEDULE_ID).describe()).schedule
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=5)]


async def test_disabled_pauses_it_and_enabled_resumes_only_that_pause(
    client: Client, settings: Settings
) -> None:
    handle = client.get_schedule_handle(DRIFT_SCHEDULE_ID)
    await ensure_drift_schedule(client, _with(settings, enabled=False))
    state = (await handle.describe()).schedule.state
    assert state.paused and state.note == DISABLED_NOTE

    await ensure_drift_schedule(client, settings)
    assert not (await handle.describe()).schedule.state.paused

    await handle.pause(note="an operator looks into a noisy target")
    await ensure_drift_schedule(client, settings)  # a worker restart keeps the operator's pause
    state = (await handle.describe()).schedule.state
    assert state.paused and state.note == "an operator looks into a noisy target"
