"""The drift sweep on Temporal: its Schedule `lockstep-drift-sweep`, and a sweep started now.

`ensure_drift_schedule` converges the schedule to the configuration, as the poll schedules are
(`lockstep.orchestration.schedules`): created when missing, updated in place otherwise, starting
the DriftSweep workflow every `drift.interval` and skipping a tick while the previous sweep runs.
`drift: {enabled: false}` pauses it (with a note saying so); enabling it again unpauses only a
pause Lockstep set, so an operator's own pause survives a worker restart.

`start_sweep` starts one sweep now (`lockstep-drift-sweep-now-<uuid>`), for `lockstep drift
--sweep-now` and `POST /drift/sweep`; the caller may wait for its `SweepResult`.

Deliberately does not: compare anything (the workflow's activities do), nor read the result of
scheduled sweeps (the store holds the drift they found).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowHandle,
)

from lockstep.domain.sweep_messages import DRIFT_SCHEDULE_ID, SWEEP_NOW_PREFIX, SweepInput, SweepResult
from lockstep.domain.temporal_names import DRIFT_SWEEP_WORKFLOW
from lockstep.settings import Settings

# Past this a sweep is stuck; since overlapping sweeps are skipped it would hold back every later one.
SWEEP_EXECUTION_TIMEOUT = timedelta(days=1)
DISABLED_NOTE = "paused by Lockstep: drift.enabled is false in the server configuration"


def sweep_input(settings: Settings) -> SweepInput:
    """What every sweep of this configuration runs with."""
    return SweepInput(
        concurrency=settings.drift.concurrency,
        heartbeat_seconds=settings.deployment.heartbeat_timeout.total_seconds(),
        timeout_seconds=settings.deployment.activity_timeout.total_seconds(),
    )


def drift_schedule(settings: Settings) -> Schedule:
    """The schedule that sweeps every `drift.interval`, paused when `drift.enabled` is false."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DRIFT_SWEEP_WORKFLOW,
            sweep_input(settings),
            id=DRIFT_SCHEDULE_ID,  # Temporal appends the scheduled time
            task_queue=settings.temporal.task_queue,
            execution_timeout=SWEEP_EXECUTION_TIMEOUT,
            static_summary="Compare live state with what Lockstep deployed",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=settings.drift.interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=_state(settings, None),
    )


async def ensure_drift_schedule(client: Client, settings: Settings) -> str:
    """Create or update the drift sweep's schedule; its id. Idempotent."""
    schedule = drift_schedule(settings)
    try:
        await client.create_schedule(DRIFT_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(DRIFT_SCHEDULE_ID).update(_replacing_with(schedule, settings))
    return DRIFT_SCHEDULE_ID


def _state(settings: Settings, current: ScheduleState | None) -> ScheduleState:
    if not settings.drift.enabled:
        return ScheduleState(paused=True, note=DISABLED_NOTE)
    if current is None or (current.paused and current.note == DISABLED_NOTE):
        return ScheduleState(paused=False, note="drift.enabled is true")
    return current  # an operator's pause, or none: kept


def _replacing_with(
    schedule: Schedule, settings: Settings
) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = _state(settings, current.description.schedule.state)
        return ScheduleUpdate(schedule=dataclasses.replace(schedule, state=state))

    return update


async def start_sweep(client: Client, settings: Settings) -> WorkflowHandle[object, SweepResult]:
    """Start one sweep now, beside the schedule; its handle (`await handle.result()` waits)."""
    return await client.start_workflow(
        DRIFT_SWEEP_WORKFLOW,
        sweep_input(settings),
        id=f"{SWEEP_NOW_PREFIX}{uuid.uuid4()}",
        task_queue=settings.temporal.task_queue,
        execution_timeout=SWEEP_EXECUTION_TIMEOUT,
        result_type=SweepResult,
        static_summary="Drift sweep asked for now",
    )
