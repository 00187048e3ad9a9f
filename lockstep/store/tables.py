"""SQLModel tables of the system of record: deployments, their steps, component revisions, the
write-ahead record of prior releases, approval decisions and policy decisions.

Owns the schema only; reading and writing goes through the repository functions in
`lockstep.store.deployments`. Timestamps are stored in UTC through `UTCDateTime`, which hands back
timezone-aware values on every database (SQLite keeps no offset, PostgreSQL uses timestamptz).
Statuses are stored as their string values (`DeploymentStatus`, `StepStatus`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, Index, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive value is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp written in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        # SQLite stores the digits and drops the offset, so only UTC digits may reach it.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class DeploymentRecord(SQLModel, table=True):
    """One deployment of (application, environment, commit); `id` is also the workflow id."""

    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_app_env_created", "application", "environment", "created_at"),
        Index("ix_deployments_status", "status"),
    )

    id: str = Field(primary_key=True)
    application: str
    environment: str
    commit: str
    repository: str  # URL without credentials
    trigger: str  # manual | webhook | promotion | rollback | remediation
    actor: str | None = None
    status: str  # a DeploymentStatus value
    plan_json: str = Field(default="{}", sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    commit_timestamp: datetime | None = Field(default=None, sa_type=UTCDateTime)
    approvals_required: int | None = None  # the quorum it waited for (manifest and policy)
    # The environment's rules (promote_from, approvals) as its commit's lockstep.yaml set them,
    # snapshot at planning: once it succeeds, the rules in force for the next deployment.
    rules_json: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StepRecord(SQLModel, table=True):
    """One action of a deployment on one component (and host): deploy, health or rollback."""

    __tablename__ = "deployment_steps"
    __table_args__ = (
        UniqueConstraint("deployment_id", "component", "host", "action", name="uq_deployment_steps_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deployment_id: str = Field(index=True)
    component: str
    host: str = ""  # "" when the step is not host-specific
    action: str  # deploy | health | rollback
    status: str  # a StepStatus value
    attempt: int = 0
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    output: str = Field(default="", sa_type=Text)  # truncated by the caller
    # The step's change set (`lockstep.domain.changes.ChangeSet`, bounded, as JSON) once its
    # deploy or rollback returned; None before that, for health steps and from older versions.
    changes: str | None = Field(default=None, sa_type=Text)


class ComponentRevisionRecord(SQLModel, table=True):
    """The content a deployment delivered for one component: what is live after it succeeded."""

    __tablename__ = "component_revisions"
    __table_args__ = (
        UniqueConstraint("deployment_id", "component", name="uq_component_revisions_key"),
        Index("ix_component_revisions_latest", "application", "environment", "component", "deployed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    application: str
    environment: str
    component: str
    commit: str
    content_hash: str
    deployment_id: str
    deployed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PriorReleaseRecord(SQLModel, table=True):
    """What `<dest>/current` pointed at on a host before a deployment first touched it.

    Written ahead of the switch, first write wins, so a rollback always has a recorded way back
    even when the deploy activity is retried after the switch already happened.
    """

    __tablename__ = "prior_releases"
    __table_args__ = (
        UniqueConstraint("deployment_id", "component", "host", "dest", name="uq_prior_releases_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deployment_id: str = Field(index=True)
    component: str
    host: str
    dest: str
    previous_release: str | None = None  # release name `current` pointed at; None if none
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApprovalDecisionRecord(SQLModel, table=True):
    """One approve or reject decision on a deployment, counted or refused, with who, when and why."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("deployment_id", "run_id", "sequence", name="uq_approvals_key"),)

    id: int | None = Field(default=None, primary_key=True)
    deployment_id: str = Field(index=True)
    run_id: str = ""  # the workflow run (a reset starts counting again)
    sequence: int  # the n-th decision the run saw: keys the write
    approver: str
    decision: str  # approve | reject
    comment: str = Field(default="", sa_type=Text)
    source: str  # api-token | temporal-signal: how the approver's identity was established
    counted: bool = True
    reason: str = Field(default="", sa_type=Text)  # why it did not count
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PolicyDecisionRecord(SQLModel, table=True):
    """One policy evaluation of a deployment: at plan time and again right before the first change."""

    __tablename__ = "policy_decisions"
    __table_args__ = (UniqueConstraint("deployment_id", "run_id", "stage", name="uq_policy_decisions_key"),)

    id: int | None = Field(default=None, primary_key=True)
    deployment_id: str = Field(index=True)
    run_id: str = ""  # the workflow run
    stage: str  # plan | approved | approved-2 ...
    engine: str
    bundle_revision: str
    input_sha256: str
    denied: bool
    deny_json: str = Field(default="[]", sa_type=Text)
    warn_json: str = Field(default="[]", sa_type=Text)
    approvals_required: int = 0
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def warnings(self) -> list[str]:
        return [str(w) for w in json.loads(self.warn_json)]

    @property
    def reasons(self) -> list[str]:
        return [str(r) for r in json.loads(self.deny_json)]
