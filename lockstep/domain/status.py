"""Deployment and step statuses (docs/concepts.md). Owns the vocabulary, not the transitions."""

from __future__ import annotations

from enum import StrEnum


class DeploymentStatus(StrEnum):
    QUEUED = "queued"
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    DEPLOYING = "deploying"
    ROLLING_BACK = "rolling_back"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    REJECTED = "rejected"
    DENIED = "denied"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        DeploymentStatus.SUCCEEDED,
        DeploymentStatus.FAILED,
        DeploymentStatus.ROLLED_BACK,
        DeploymentStatus.ROLLBACK_FAILED,
        DeploymentStatus.REJECTED,
        DeploymentStatus.DENIED,
        DeploymentStatus.SUPERSEDED,
        DeploymentStatus.CANCELLED,
    }
)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    SKIPPED = "skipped"


class ComponentAction(StrEnum):
    """Why a component is touched: new in this environment, content changed, or a dependency moved."""

    CREATE = "create"
    UPDATE = "update"
    REDEPLOY = "redeploy"
