"""Input and result of the DriftSweep workflow and its two activities.

What a sweep looks at (`SweepTarget`: application, environment, repository) and what it found per
environment (`SweptEnvironment`: the state, why, how many drift items and pending commits), kept
small so the summary of a sweep over `MAX_DRIFT_ENVIRONMENTS` environments stays a modest payload.

Deliberately does not hold the drift items themselves, nor decide anything about them: the
comparison (`lockstep.drift`) stores them and `lockstep drift` / `GET /drift` show them. Fields
are added with defaults only: the schedule keeps starting runs with these across upgrades.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

DRIFT_SCHEDULE_ID = "lockstep-drift-sweep"
SWEEP_NOW_PREFIX = "lockstep-drift-sweep-now-"  # + a uuid: `lockstep drift --sweep-now`, POST /drift/sweep
LANE_BUSY = "a deployment is changing its targets"
LANE_MOVED = "a deployment ended while it was compared"
MAX_REASON_CHARS = 500  # one environment's reason in the summary

SweepState = Literal["in_sync", "drifted", "unknown", "skipped"]


class SweepInput(BaseModel):
    """How a sweep runs: at most `concurrency` environments at once, each activity heartbeating
    within `heartbeat_seconds` and given `timeout_seconds` (the server configuration's
    `drift.concurrency` and `deployment` timeouts, written into the schedule's action)."""

    concurrency: int = Field(4, ge=1)
    heartbeat_seconds: float = 30.0
    timeout_seconds: float = 1800.0


class SweepTarget(BaseModel):
    application: str
    environment: str
    repository: str


class SweepTargets(BaseModel):
    """The environments to sweep, at most the bound asked for; `omitted` counts the rest."""

    environments: list[SweepTarget] = Field(default_factory=list)
    omitted: int = 0


class SweepRequest(BaseModel):
    target: SweepTarget
    heartbeat_seconds: float = 30.0
    # When the sweep began: the environment's targets may be read as they were at any moment
    # since (what one read of a cluster answered is shared by the environments); None: now.
    started: datetime | None = None


class SweptEnvironment(BaseModel):
    """One environment's outcome: `skipped` when a deployment of it was running, `unknown` with the
    reason when it could not be compared (a target unreachable, or the sweep activity failed)."""

    application: str
    environment: str
    state: SweepState
    reason: str | None = None
    items: int = 0  # drift items found
    pending: int = 0  # commits on its branch not live yet (not drift)
    remediation: str | None = None  # the remediation deployment this sweep started (or found queued)


class SweepResult(BaseModel):
    environments: list[SweptEnvironment] = Field(default_factory=list)
    omitted: int = 0  # environments past MAX_DRIFT_ENVIRONMENTS, not swept this time

    def counts(self) -> dict[str, int]:
        """How many environments ended in each state."""
        found: dict[str, int] = {}
        for swept in self.environments:
            found[swept.state] = found.get(swept.state, 0) + 1
        return found


def short_reason(reason: str | None) -> str | None:
    """A reason cut to `MAX_REASON_CHARS`, so one long error cannot swell the sweep's result."""
    if reason is None or len(reason) <= MAX_REASON_CHARS:
        return reason
    return reason[: MAX_REASON_CHARS - 1] + "…"
