"""Repository functions for what a deployment did on its targets: steps and prior releases.

Owns the per-(component, host, action) step journal, the change set stored on a step once its
deploy or rollback returned, and the write-ahead record of which release was live before a
deployment touched a host. Steps and prior releases are keyed by unique constraints and
idempotent; the prior release is first-write-wins, so a deploy activity retried after it already
switched `current` cannot overwrite the way back with its own release. A change set only ever
lands on a step that exists (last write wins). Committing is the caller's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from pydantic import ValidationError
from sqlmodel import Session, col, select

from lockstep.domain.changes import ChangeSet
from lockstep.domain.masking import Masker
from lockstep.domain.status import StepStatus
from lockstep.store.inserts import insert_or_get
from lockstep.store.tables import PriorReleaseRecord, StepRecord, as_utc, utcnow

# Statuses after which a step is over; its finished_at is set if the caller gave none.
_FINISHED = frozenset(
    {
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.ROLLED_BACK,
        StepStatus.ROLLBACK_FAILED,
        StepStatus.SKIPPED,
    }
)
# Statuses of a step that has not run: they do not count as an attempt.
_NOT_RUN = frozenset({StepStatus.PENDING, StepStatus.SKIPPED})


def record_step(
    *,
    session: Session,
    deployment_id: str,
    component: str,
    host: str = "",
    action: str,
    status: str,
    output: str | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    attempt: int | None = None,
) -> StepRecord:
    """Create or update the step (deployment, component, host, action).

    Writing RUNNING again starts a new attempt (attempt + 1, finished_at cleared). A caller
    that knows its attempt number (Temporal's `activity.info().attempt`) passes `attempt`, and
    then the stored attempt is the highest one seen, which makes a duplicated write a no-op.
    """
    new_status = StepStatus(status)
    key = (deployment_id, component, host, action)
    row = _find_step(session, *key)
    if row is None:
        candidate = StepRecord(
            deployment_id=deployment_id,
            component=component,
            host=host,
            action=action,
            status=new_status.value,
        )
        row = insert_or_get(session, candidate, partial(_find_step, session, *key))
    status_changed = row.status != new_status.value
    if new_status == StepStatus.RUNNING:
        starts = attempt > row.attempt if attempt is not None else True
        if starts:
            row.attempt = attempt if attempt is not None else row.attempt + 1
            row.started_at = as_utc(started_at) if started_at else utcnow()
            row.finished_at = None
    else:
        if new_status not in _NOT_RUN and row.attempt < (attempt or 1):
            row.attempt = attempt or 1
        if started_at is not None and row.started_at is None:
            row.started_at = as_utc(started_at)
        # A repeated write of the status a step already finished with keeps its first finish.
        if new_status in _FINISHED and (status_changed or row.finished_at is None):
            row.finished_at = as_utc(finished_at) if finished_at else utcnow()
    if status_changed:
        row.status = new_status.value
    if output is not None and row.output != output:
        row.output = output
    session.flush()
    return row


def record_step_changes(
    *,
    session: Session,
    deployment_id: str,
    component: str,
    action: str,
    change_sets: Sequence[ChangeSet],
    masker: Masker | None = None,
) -> list[str]:
    """Store each change set on the step at its location (host = `location`: a host's label, or
    "" for a cluster) of (deployment, component, action), in its bounded form as JSON.

    Only a step the journal already wrote is updated: its status is the journal's to decide, so
    a change set whose step is missing is skipped rather than given a made-up one. Returns the
    locations skipped. A retried activity writes again and its change set replaces the earlier
    attempt's: the step shows what its last attempt did. Summaries and the unreachable reason
    are stored with `masker`'s secrets masked.
    """
    mask = masker or Masker(())
    skipped: list[str] = []
    for change_set in change_sets:
        row = _find_step(session, deployment_id, component, change_set.location, action)
        if row is None:
            skipped.append(change_set.location)
            continue
        stored = change_set.bounded().masked(mask).model_dump_json(exclude_defaults=True)
        if row.changes != stored:
            row.changes = stored
    session.flush()
    return skipped


def step_changes(row: StepRecord) -> ChangeSet | None:
    """The change set stored on a step, or None (none recorded, or a value this version cannot
    read: a step's change set is for showing, never a reason to refuse a deployment's view)."""
    if not row.changes:
        return None
    try:
        return ChangeSet.model_validate_json(row.changes)
    except ValidationError:
        return None


def steps_for(*, session: Session, deployment_id: str) -> list[StepRecord]:
    """Every step of a deployment in the order they were first recorded."""
    query = select(StepRecord).where(StepRecord.deployment_id == deployment_id).order_by(col(StepRecord.id))
    return list(session.exec(query).all())


def record_prior_release(
    *,
    session: Session,
    deployment_id: str,
    component: str,
    host: str,
    dest: str,
    previous_release: str | None,
) -> str | None:
    """Record what `<dest>/current` pointed at before this deployment; the first write wins.

    Returns the stored value, which is the one to roll back to even if this call lost the race.
    """
    key = (deployment_id, component, host, dest)
    row = _find_prior(session, *key)
    if row is None:
        candidate = PriorReleaseRecord(
            deployment_id=deployment_id,
            component=component,
            host=host,
            dest=dest,
            previous_release=previous_release,
        )
        row = insert_or_get(session, candidate, partial(_find_prior, session, *key))
    return row.previous_release


def prior_releases(*, session: Session, deployment_id: str, component: str) -> list[PriorReleaseRecord]:
    """The prior releases a deployment recorded for one component, in recording order."""
    query = (
        select(PriorReleaseRecord)
        .where(PriorReleaseRecord.deployment_id == deployment_id, PriorReleaseRecord.component == component)
        .order_by(col(PriorReleaseRecord.id))
    )
    return list(session.exec(query).all())


def _find_step(
    session: Session, deployment_id: str, component: str, host: str, action: str
) -> StepRecord | None:
    query = select(StepRecord).where(
        StepRecord.deployment_id == deployment_id,
        StepRecord.component == component,
        StepRecord.host == host,
        StepRecord.action == action,
    )
    # Row lock (PostgreSQL; SQLite transactions are serial already): concurrent writers of one
    # step queue up and each sees the attempt the previous one wrote.
    locked = query.with_for_update().execution_options(populate_existing=True)
    return session.exec(locked).first()


def _find_prior(
    session: Session, deployment_id: str, component: str, host: str, dest: str
) -> PriorReleaseRecord | None:
    query = select(PriorReleaseRecord).where(
        PriorReleaseRecord.deployment_id == deployment_id,
        PriorReleaseRecord.component == component,
        PriorReleaseRecord.host == host,
        PriorReleaseRecord.dest == dest,
    )
    return session.exec(query).first()
