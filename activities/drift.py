"""The activities behind the DriftSweep workflow: which environments to sweep, and one sweep.

The comparison itself is not here: it is injected (`sweep_one`, `list_environments`), so this
module owns only what the sweep needs around it. An environment whose targets a deployment is
changing (status `deploying` or `rolling_back`) is skipped, not compared, since its live state is
moving on purpose; one queued, planning or awaiting approval changes nothing yet and does not stop
a sweep. It is checked again after the comparison: a deployment that began, or one that ended,
meanwhile makes the result `skipped` too. Progress of a comparison becomes the activity's heartbeat.
After a comparison, the remediation the policy's decisions call for is started (injected:
`remediate`), through the environment's lane like any deployment.

Errors: a Lockstep error becomes a Temporal error that says whether a retry helps; anything else is
retried by the workflow's policy, after which the workflow reports the environment `unknown`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from temporalio import activity

from activities.errors import to_application_error
from activities.heartbeat import run_with_heartbeat
from activities.threads import ActivityThreads
from lockstep.domain.errors import LockstepError
from lockstep.domain.sweep_messages import (
    LANE_BUSY,
    LANE_MOVED,
    SweepRequest,
    SweepState,
    SweepTarget,
    SweepTargets,
    SweptEnvironment,
    short_reason,
)
from lockstep.domain.temporal_names import LIST_DRIFT_ENVIRONMENTS, SWEEP_DRIFT_ENVIRONMENT
from lockstep.drift.sweep import LiveMoved
from lockstep.store.deployments import changing_deployment
from lockstep.store.engine import Store


class EnvironmentOutcome(Protocol):
    """What one comparison returns (`lockstep.domain.drift.EnvironmentDrift` has these)."""

    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def items(self) -> Sequence[object]: ...
    @property
    def pending(self) -> Sequence[str]: ...


class SweepOne(Protocol):
    """Compare one environment's live state with what Lockstep deployed there and store what
    differs (`lockstep.drift.sweep.sweep_environment` with its adapters bound)."""

    def __call__(
        self,
        *,
        application: str,
        environment: str,
        repository: str,
        now: datetime,
        progress: Callable[[str], None],
        since: datetime | None,
        still: Callable[[], str | None],
    ) -> EnvironmentOutcome: ...


ListEnvironments = Callable[[], list[tuple[str, str, str]]]  # (application, environment, repository)


class Remediate(Protocol):
    """Remediation deployments (`lockstep.orchestration.remediations`, bound in `workers.drift`)."""

    async def start(self, outcome: EnvironmentOutcome) -> str | None:
        """Start the remediation a compared environment calls for, if any; its id."""
        ...

    async def adopt(self, target: SweepTarget, deployment_id: str) -> str | None:
        """Name a running remediation on its items if a failed attempt left them without; its id."""
        ...


_STATES: tuple[SweepState, ...] = ("in_sync", "drifted", "unknown", "skipped")


class DriftActivities:
    def __init__(
        self,
        *,
        store: Store,
        sweep_one: SweepOne,
        list_environments: ListEnvironments,
        threads: ActivityThreads,
        remediate: Remediate | None = None,
    ) -> None:
        self._store = store
        self._remediate = remediate
        self._sweep_one = sweep_one
        self._list = list_environments
        self._threads = threads

    @activity.defn(name=LIST_DRIFT_ENVIRONMENTS)
    async def list_environments(self, limit: int) -> SweepTargets:
        """Every deployed (application, environment) with its repository, in name order; at most
        `limit`, the rest counted."""
        try:
            found = sorted(set(await self._threads.run(self._list)))
        except LockstepError as err:
            raise to_application_error(err) from err
        targets = [SweepTarget(application=a, environment=e, repository=r) for a, e, r in found[:limit]]
        return SweepTargets(environments=targets, omitted=max(0, len(found) - limit))

    @activity.defn(name=SWEEP_DRIFT_ENVIRONMENT)
    async def sweep_environment(self, request: SweepRequest) -> SweptEnvironment:
        """Compare one environment, unless a deployment of it is running."""
        target = request.target

        def work(progress: Callable[[str], None], cancelled: threading.Event) -> _Compared:
            busy, ended = self._changing(target)
            if busy is not None:
                return _Compared(_skipped(target, busy), busy=busy)
            seen: list[str | None] = []

            def still() -> str | None:
                """Asked right before the comparison is recorded: did live move meanwhile?"""
                busy_now, ended_now = self._changing(target)
                seen.append(busy_now)
                if busy_now is not None:
                    return f"{LANE_BUSY} ({busy_now})"
                return LANE_MOVED if ended_now != ended else None

            progress(f"comparing {target.application}/{target.environment}")
            try:
                outcome = self._sweep_one(
                    application=target.application,
                    environment=target.environment,
                    repository=target.repository,
                    now=datetime.now(UTC),
                    progress=progress,
                    since=request.started,
                    still=still,
                )
            except LiveMoved:
                busy_now = seen[-1] if seen else None
                return _Compared(_skipped(target, busy_now), busy=busy_now)
            swept = SweptEnvironment(
                application=target.application,
                environment=target.environment,
                state=_state(outcome.state),
                reason=short_reason(outcome.reason),
                items=len(outcome.items),
                pending=len(outcome.pending),
            )
            return _Compared(swept, outcome=outcome)

        try:
            compared = await run_with_heartbeat(
                work, threads=self._threads, interval=max(0.5, request.heartbeat_seconds / 3)
            )
            if self._remediate is None:
                return compared.swept
            activity.heartbeat("remediation")
            if compared.outcome is not None:
                # Idempotent on a retry: a remediation already queued or running answers again.
                remediation = await self._remediate.start(compared.outcome)
            elif compared.busy is not None:  # a remediation an earlier attempt started, unrecorded?
                remediation = await self._remediate.adopt(target, compared.busy)
            else:
                remediation = None
            return compared.swept.model_copy(update={"remediation": remediation})
        except LockstepError as err:
            raise to_application_error(err) from err

    def _changing(self, target: SweepTarget) -> tuple[str | None, datetime | None]:
        with self._store.read_session() as session:
            return changing_deployment(
                session=session, application=target.application, environment=target.environment
            )


@dataclass(frozen=True)
class _Compared:
    """What one comparison came to: compared (`outcome`), or skipped for the deployment `busy`."""

    swept: SweptEnvironment
    outcome: EnvironmentOutcome | None = None
    busy: str | None = None


def _skipped(target: SweepTarget, deployment_id: str | None) -> SweptEnvironment:
    reason = f"{LANE_BUSY} ({deployment_id})" if deployment_id else f"{LANE_MOVED}; compared next time"
    return SweptEnvironment(
        application=target.application, environment=target.environment, state="skipped", reason=reason
    )


def _state(state: str) -> SweepState:
    return next((s for s in _STATES if s == state), "unknown")
