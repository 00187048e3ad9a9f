"""Audit entries: what happened to a deployment, who did it and how we know who they are.

Owns the vocabulary (`AuditKind`) and the entry model that workflows and activities hand to the
store; `lockstep.store.audit` chains the entries with hashes and verifies them. It does not
decide what gets recorded, nor does it compute hashes or read clocks: `at` is supplied by the
caller (a workflow passes `workflow.now()`, so a replay produces the same entry).

The model travels through Temporal with the pydantic data converter: add fields with defaults
only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator


class AuditKind(StrEnum):
    STARTED = "started"
    PLANNED = "planned"
    POLICY_DECISION = "policy_decision"
    APPROVAL = "approval"
    REJECTION = "rejection"
    STEP_FINISHED = "step_finished"
    ROLLBACK = "rollback"
    MANUAL_ACTION = "manual_action"
    DRIFT_DETECTED = "drift_detected"
    DRIFT_RESOLVED = "drift_resolved"
    PROMOTION_FAILED = "promotion_failed"
    FINISHED = "finished"


class ActorSource(StrEnum):
    """How the actor of an entry was established (free-form values are accepted too)."""

    API_TOKEN = "api-token"  # a bearer token matched a configured user's token_sha256
    # A name claimed in a Temporal signal/update payload: unverified by Lockstep, it relies on
    # the Temporal cluster's own access control.
    TEMPORAL_SIGNAL = "temporal-signal"
    WEBHOOK_SIGNATURE = "webhook-signature"  # a forge's signed webhook (the pusher it names)
    CLI_LOCAL = "cli-local"  # a command run on the server with direct store access
    SYSTEM = "system"  # Lockstep itself (schedules, lanes, compensation)


# Triggers only a person starts: `deploy` (`manual`) and `rollback`, by the CLI or the API.
PERSON_TRIGGERS = frozenset({"manual", "rollback"})


def actor_source_for(trigger: str, actor: str | None) -> str:
    """How a deployment's actor was established, for deployments that do not say it themselves:
    each trigger has one way in (`lockstep deploy` without a token says `cli-local` explicitly)."""
    if trigger == "webhook":
        return ActorSource.WEBHOOK_SIGNATURE.value
    if trigger in PERSON_TRIGGERS and actor:
        return ActorSource.API_TOKEN.value  # the API records the token's user only
    if trigger in PERSON_TRIGGERS:
        return ActorSource.CLI_LOCAL.value  # `lockstep deploy|rollback` on a machine with access to Temporal
    return ActorSource.SYSTEM.value  # promotion, polling, remediation


class AuditEntry(BaseModel):
    """One event of the audit trail, before the store assigns it a sequence number and hash.

    `key` is the idempotency key chosen by the caller, e.g.
    "<workflow_id>/<run_id>/<activity_id>/<n>": appending the same key twice writes nothing.
    """

    key: str = Field(min_length=1)
    kind: AuditKind
    at: str  # ISO 8601 with a UTC offset
    actor: str | None = None
    actor_source: str = ActorSource.SYSTEM.value
    deployment_id: str | None = None
    application: str | None = None
    environment: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)  # JSON-able values only

    @field_validator("at")
    @classmethod
    def _has_offset(cls, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp without a UTC offset: {value!r}")
        return value

    @classmethod
    def stamped(cls, *, at: datetime, **fields: Any) -> AuditEntry:
        """An entry whose `at` is the timezone-aware `at` (e.g. `workflow.now()`)."""
        return cls(at=at.isoformat(), **fields)
