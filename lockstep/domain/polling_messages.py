"""Input and result of the PollRepository workflow and its `poll_repository` activity.

Fields are added with defaults only: schedules keep starting runs with these across upgrades.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

POLL_SCHEDULE_PREFIX = "lockstep-poll-"
DEFAULT_POLL_INTERVAL = timedelta(minutes=3)  # without webhooks; RepositorySettings.poll_interval


class PollInput(BaseModel):
    """Which configured repository to poll."""

    repository: str  # without credentials: this lands in Temporal's history


class PollResult(BaseModel):
    """What one poll did: deployments it queued, heads already deployed or queued, problems."""

    enqueued: list[str] = Field(default_factory=list)  # deployment ids newly queued
    unchanged: list[str] = Field(default_factory=list)  # deployment ids already queued, running or done
    errors: list[str] = Field(default_factory=list)  # e.g. a broken lockstep.yaml on one branch
