"""Repository functions for deployment records: create/update, status transitions and listing.

Every function takes the session keyword-only and leaves committing to the caller
(`Store.session()`). Writes are idempotent, so a retried or replayed activity writes nothing
twice: the same call made again changes no column, not even `updated_at`. A final status is
never replaced by a non-final one, whatever order retries arrive in.

Steps, prior releases and component revisions live in `lockstep.store.steps` and
`lockstep.store.revisions` and are re-exported here, so callers import one module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from sqlalchemy import func as sa_func
from sqlalchemy import or_
from sqlmodel import Session, col, select

from lockstep.domain.ids import attempts_prefix, is_attempt_of
from lockstep.domain.redaction import safe_url
from lockstep.domain.status import DeploymentStatus
from lockstep.store.inserts import insert_or_get
from lockstep.store.revisions import last_revisions, record_revisions
from lockstep.store.steps import prior_releases, record_prior_release, record_step, steps_for
from lockstep.store.tables import DeploymentRecord, StepRecord, as_utc, utcnow

__all__ = [
    "count_attempts",
    "get_deployment",
    "last_revisions",
    "list_deployments",
    "live_deployment",
    "prior_releases",
    "record_prior_release",
    "record_revisions",
    "record_step",
    "set_deployment_status",
    "steps_for",
    "succeeded_environments",
    "upsert_deployment",
]


def upsert_deployment(
    *,
    session: Session,
    id: str,
    application: str,
    environment: str,
    commit: str,
    repository: str,
    trigger: str,
    actor: str | None,
    status: str,
    plan_json: str | None = None,
    error: str | None = None,
    commit_timestamp: datetime | None = None,
    approvals_required: int | None = None,
    rules_json: str | None = None,
) -> DeploymentRecord:
    """Insert the deployment, or update the given non-None fields of an existing one."""
    new_status = DeploymentStatus(status)
    record = _locked(session, id)
    if record is None:
        now = utcnow()
        candidate = DeploymentRecord(
            id=id,
            application=application,
            environment=environment,
            commit=commit,
            repository=safe_url(repository),
            trigger=trigger,
            actor=actor,
            status=new_status.value,
            plan_json=plan_json if plan_json is not None else "{}",
            error=error,
            commit_timestamp=as_utc(commit_timestamp) if commit_timestamp else None,
            approvals_required=approvals_required,
            rules_json=rules_json,
            created_at=now,
            updated_at=now,
            finished_at=now if new_status.is_final else None,
        )
        inserted = insert_or_get(session, candidate, partial(_locked, session, id))
        if inserted is candidate:
            return candidate
        record = inserted  # a concurrent writer inserted it first: update it like any other
    changes: dict[str, object] = {
        "application": application,
        "environment": environment,
        "commit": commit,
        "repository": safe_url(repository),
        "trigger": trigger,
        "actor": actor,
        "plan_json": plan_json,
        "error": error,
        "commit_timestamp": as_utc(commit_timestamp) if commit_timestamp else None,
        "approvals_required": approvals_required,
        "rules_json": rules_json,
    }
    _apply(record, {k: v for k, v in changes.items() if v is not None}, new_status)
    session.flush()
    return record


def set_deployment_status(
    *,
    session: Session,
    deployment_id: str,
    status: str,
    error: str | None = None,
    plan_json: str | None = None,
    approvals_required: int | None = None,
) -> None:
    """Move a deployment to `status` (finished_at set once it is final). A non-final status
    arriving after a final one is ignored; an unknown deployment raises LookupError."""
    record = _locked(session, deployment_id)
    if record is None:
        raise LookupError(f"no deployment {deployment_id!r}")
    changes: dict[str, object] = {
        "error": error,
        "plan_json": plan_json,
        "approvals_required": approvals_required,
    }
    _apply(record, {k: v for k, v in changes.items() if v is not None}, DeploymentStatus(status))
    session.flush()


def get_deployment(*, session: Session, deployment_id: str) -> DeploymentRecord | None:
    return session.get(DeploymentRecord, deployment_id)


def list_deployments(
    *,
    session: Session,
    application: str | None = None,
    environment: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[DeploymentRecord]:
    """Deployments matching every given filter, newest first."""
    query = select(DeploymentRecord)
    if application is not None:
        query = query.where(DeploymentRecord.application == application)
    if environment is not None:
        query = query.where(DeploymentRecord.environment == environment)
    if status is not None:
        query = query.where(DeploymentRecord.status == DeploymentStatus(status).value)
    query = query.order_by(col(DeploymentRecord.created_at).desc(), col(DeploymentRecord.id).desc())
    return list(session.exec(query.limit(limit)).all())


def unfinished_deployments(
    *, session: Session, application: str, environment: str, limit: int = 50
) -> list[DeploymentRecord]:
    """Deployments of the environment not yet ended (queued included), newest first: what a lane
    that starts afresh looks through for one its predecessor let go."""
    unfinished = [s.value for s in DeploymentStatus if not s.is_final]
    query = (
        select(DeploymentRecord)
        .where(DeploymentRecord.application == application)
        .where(DeploymentRecord.environment == environment)
        .where(col(DeploymentRecord.status).in_(unfinished))
        .order_by(col(DeploymentRecord.created_at).desc(), col(DeploymentRecord.id).desc())
    )
    return list(session.exec(query.limit(limit)).all())


# Statuses in which a deployment changes its environment's targets.
CHANGING = (DeploymentStatus.DEPLOYING.value, DeploymentStatus.ROLLING_BACK.value)


def changing_deployment(
    *, session: Session, application: str, environment: str
) -> tuple[str | None, datetime | None]:
    """The deployment of the environment changing its targets now (deploying or rolling back),
    if any, and when one of its deployments that reached its targets (it has steps) last ended
    (None: none has): together they tell whether the targets moved between two looks."""
    changing = session.exec(
        select(DeploymentRecord.id)
        .where(DeploymentRecord.application == application, DeploymentRecord.environment == environment)
        .where(col(DeploymentRecord.status).in_(CHANGING))
        .limit(1)
    ).first()
    reached = select(StepRecord.deployment_id).where(StepRecord.deployment_id == DeploymentRecord.id)
    ended = session.exec(  # only those that reached their targets: one superseded or denied did not
        select(sa_func.max(DeploymentRecord.finished_at))
        .where(DeploymentRecord.application == application, DeploymentRecord.environment == environment)
        .where(reached.exists())
    ).first()
    if ended is not None and not isinstance(ended, datetime):
        ended = datetime.fromisoformat(str(ended))
    return changing, as_utc(ended) if ended is not None else None


def live_deployment(*, session: Session, application: str, environment: str) -> tuple[str, str | None] | None:
    """(commit, rules snapshot) of the environment's newest successful deployment: what is live
    there, and the rules its lockstep.yaml set (None for deployments recorded before snapshots)."""
    query = (
        select(DeploymentRecord.commit, DeploymentRecord.rules_json)
        .where(
            DeploymentRecord.application == application,
            DeploymentRecord.environment == environment,
            DeploymentRecord.status == DeploymentStatus.SUCCEEDED.value,
        )
        .order_by(col(DeploymentRecord.finished_at).desc(), col(DeploymentRecord.id).desc())
        .limit(1)
    )
    row = session.exec(query).first()
    return None if row is None else (row[0], row[1])


def succeeded_environments(
    *, session: Session, application: str, commit: str, environments: Sequence[str]
) -> set[str]:
    """Which of `environments` have a successful deployment of exactly `commit`."""
    if not environments:
        return set()
    query = select(DeploymentRecord.environment).where(
        DeploymentRecord.application == application,
        DeploymentRecord.commit == commit,
        DeploymentRecord.status == DeploymentStatus.SUCCEEDED.value,
        col(DeploymentRecord.environment).in_(list(environments)),
    )
    return set(session.exec(query).all())


def count_attempts(*, session: Session, base: str) -> int:
    """How many attempts of the deployment `base` the store has: `base` itself and the ids
    `attempt_id` gives its later attempts (`%` and `_` match only themselves). Exactly those: the
    ids `is_attempt_of` accepts (`lockstep.domain.ids`)."""
    id_ = col(DeploymentRecord.id)
    query = select(id_).where(or_(id_ == base, id_.startswith(attempts_prefix(base), autoescape=True)))
    # The prefix also matches an environment whose name continues this one's with `.`: keep only
    # the attempts themselves.
    return sum(1 for found in session.exec(query).all() if is_attempt_of(base, found))


def _locked(session: Session, deployment_id: str) -> DeploymentRecord | None:
    """The record, locked for this transaction (PostgreSQL; SQLite transactions are serial), so
    the final-status check and the write that follows it cannot interleave with another writer."""
    return session.get(DeploymentRecord, deployment_id, with_for_update=True, populate_existing=True)


def _apply(record: DeploymentRecord, changes: dict[str, object], status: DeploymentStatus) -> None:
    """Set the changed columns, keep a final status final, and touch `updated_at` only if
    something really changed (so a repeated write is a no-op)."""
    current = DeploymentStatus(record.status)
    if not (current.is_final and not status.is_final):
        changes["status"] = status.value
    changed = False
    for name, value in changes.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    if DeploymentStatus(record.status).is_final and record.finished_at is None:
        record.finished_at = utcnow()
        changed = True
    if changed:
        record.updated_at = utcnow()
