"""The drift sweep (SPEC §4): started by the Schedule `lockstep-drift-sweep`, or now by
`lockstep drift --sweep-now` and `POST /drift/sweep`.

It asks one activity for the environments to sweep, then runs one activity per environment, at
most `concurrency` at once, and returns one line per environment: its state (`in_sync`, `drifted`,
`unknown`, or `skipped` while a deployment of it runs), why, and how many drift items it found.

Determinism: environments are swept in the order the listing activity returned (recorded in
history); `asyncio.Semaphore` wakes waiters in the order they queued, on the workflow's own
deterministic loop, so a replay schedules the same activities in the same order. A worker killed
mid-fan-out loses nothing: each activity is retried (heartbeat timeout, then a bounded number of
attempts) and the summary waits for every one.

History stays bounded without continue-as-new: the listing returns at most
`MAX_DRIFT_ENVIRONMENTS` (1000) environments, each costing three events (scheduled, started,
completed) plus retries and one short summary line, far below Temporal's 50,000 events and 2 MB
payloads. Environments past the bound are counted in `omitted`, never silently dropped.

Each activity is told when the sweep began (`SweepRequest.started`, the workflow's own clock):
its environment's targets may be read as they were since then, so the environments of one sweep
share what one read of a cluster answered (`lockstep.delivery.kube_listings`).

Orchestration only: comparing, reading targets and storing drift happen in the activities. An
activity that keeps failing leaves its environment `unknown` with the error, never the sweep.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from lockstep.domain.bounds import MAX_DRIFT_ENVIRONMENTS
    from lockstep.domain.sweep_messages import (
        SweepInput,
        SweepRequest,
        SweepResult,
        SweepTarget,
        SweptEnvironment,
        short_reason,
    )
    from lockstep.domain.temporal_names import DRIFT_SWEEP_WORKFLOW
    from workflows.activity_interfaces import DriftActivities

# Listing reads the store and the configured repositories' manifests: quick, or broken.
_LIST_TIMEOUT = timedelta(minutes=5)
# A few attempts: the next scheduled sweep compares again anyway, and overlapping sweeps are
# skipped meanwhile, so an environment that keeps failing must not hold back the others for long.
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=3,
)


@workflow.defn(name=DRIFT_SWEEP_WORKFLOW)
class DriftSweep:
    @workflow.run
    async def run(self, sweep: SweepInput) -> SweepResult:
        started = workflow.now()
        listed = await workflow.execute_activity_method(
            DriftActivities.list_environments,
            MAX_DRIFT_ENVIRONMENTS,
            start_to_close_timeout=_LIST_TIMEOUT,
            retry_policy=_RETRY,
            summary="environments to sweep",
        )
        slots = asyncio.Semaphore(max(1, sweep.concurrency))

        async def one(target: SweepTarget) -> SweptEnvironment:
            async with slots:
                return await self._sweep_one(sweep, target, started)

        swept = await asyncio.gather(*(one(t) for t in listed.environments))
        return SweepResult(environments=list(swept), omitted=listed.omitted)

    @staticmethod
    async def _sweep_one(sweep: SweepInput, target: SweepTarget, started: datetime) -> SweptEnvironment:
        try:
            return await workflow.execute_activity_method(
                DriftActivities.sweep_environment,
                SweepRequest(target=target, heartbeat_seconds=sweep.heartbeat_seconds, started=started),
                start_to_close_timeout=timedelta(seconds=sweep.timeout_seconds),
                heartbeat_timeout=timedelta(seconds=sweep.heartbeat_seconds),
                retry_policy=_RETRY,
                summary=f"sweep {target.application}/{target.environment}",
            )
        except ActivityError as err:  # retries spent: this environment is unknown, the rest go on
            cause = err.cause
            why = cause.message if isinstance(cause, FailureError) else str(cause or err)
            return SweptEnvironment(
                application=target.application,
                environment=target.environment,
                state="unknown",
                reason=short_reason(f"the sweep failed: {why}"),
            )
