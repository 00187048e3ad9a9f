"""Drift in the system of record: the items each sweep found and each environment's last state.

Owns the tables `drift_items` (one row per difference while it lasts: a row seen again keeps its
`first_seen` and moves `last_seen`; one no longer seen gets `resolved_at` and `resolution`, and a
later sighting of the same difference opens a new row) and `drift_environments` (state, reason
and pending commits of the last sweep), and the repository functions over them, with which
environments have a live revision to sweep.

Deliberately does not: decide what is drift, ask the policy, or write audit entries (the sweep
does, in the same session).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, Text, func
from sqlmodel import Field, Session, SQLModel, col, select

from lockstep.domain.drift import (
    DriftItem,
    DriftState,
    EnvironmentDrift,
    LastDeployment,
    item_key,
    resolution_for,
)
from lockstep.domain.rollback_target import REMEDIATION_TRIGGER
from lockstep.domain.status import DeploymentStatus
from lockstep.store.tables import ComponentRevisionRecord, DeploymentRecord, UTCDateTime, as_utc


class DriftItemRecord(SQLModel, table=True):
    """One difference found live (`lockstep.domain.drift.DriftItem`)."""

    __tablename__ = "drift_items"
    __table_args__ = (Index("ix_drift_items_env_open", "application", "environment", "resolved_at"),)

    id: int | None = Field(default=None, primary_key=True)
    application: str
    environment: str
    component: str
    target: str
    host: str = ""
    object: str = ""
    kind: str  # modified | missing | unexpected
    path: str = Field(default="", sa_type=Text)
    first_seen: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime)
    decision: str = "flag"
    remediation: str | None = None
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str | None = None
    last_deployment_json: str | None = Field(default=None, sa_type=Text)


class DriftEnvironmentRecord(SQLModel, table=True):
    """What the last sweep of one environment found."""

    __tablename__ = "drift_environments"

    application: str = Field(primary_key=True)
    environment: str = Field(primary_key=True)
    state: str  # in_sync | drifted | unknown
    reason: str | None = Field(default=None, sa_type=Text)
    pending_json: str = Field(default="[]", sa_type=Text)
    checked_at: datetime = Field(sa_type=UTCDateTime)


@dataclass(frozen=True)
class SweepOutcome:
    """What recording a sweep changed: items seen for the first time, and items it resolved."""

    new: list[DriftItem]
    resolved: list[DriftItem]


def iso(value: datetime) -> str:
    """A timestamp as stored and compared: ISO 8601 in UTC."""
    return as_utc(value).isoformat()


def live_environments(*, session: Session) -> list[tuple[str, str, str]]:
    """(application, environment, repository) of every environment with a live revision; the
    repository is that of the newest deployment that recorded one."""
    query = (
        select(
            ComponentRevisionRecord.application,
            ComponentRevisionRecord.environment,
            DeploymentRecord.repository,
            ComponentRevisionRecord.deployed_at,
        )
        .join(DeploymentRecord, col(DeploymentRecord.id) == col(ComponentRevisionRecord.deployment_id))
        .order_by(col(ComponentRevisionRecord.deployed_at))
    )
    newest: dict[tuple[str, str], str] = {}
    for application, environment, repository, _at in session.exec(query).all():
        newest[(application, environment)] = repository
    return [(a, e, r) for (a, e), r in sorted(newest.items())]


def repository_of(*, session: Session, application: str, environment: str, commit: str) -> str | None:
    """The repository of the environment's newest deployment of `commit`, or None."""
    query = (
        select(DeploymentRecord.repository)
        .where(
            DeploymentRecord.application == application,
            DeploymentRecord.environment == environment,
            DeploymentRecord.commit == commit,
        )
        .order_by(col(DeploymentRecord.created_at).desc())
        .limit(1)
    )
    return session.exec(query).first()


def remediations_ended(
    *, session: Session, application: str, environment: str, commit: str, statuses: Sequence[str]
) -> int:
    """How many remediations of `commit` in the environment ended in one of `statuses`."""
    query = select(func.count()).where(
        DeploymentRecord.application == application,
        DeploymentRecord.environment == environment,
        DeploymentRecord.commit == commit,
        DeploymentRecord.trigger == REMEDIATION_TRIGGER,
        col(DeploymentRecord.status).in_(list(statuses)),
    )
    return int(session.exec(query).one())


def last_deployments(*, session: Session, deployment_ids: Iterable[str]) -> dict[str, LastDeployment]:
    """The deployments that set components live, by id."""
    ids = sorted(set(deployment_ids))
    if not ids:
        return {}
    rows = session.exec(select(DeploymentRecord).where(col(DeploymentRecord.id).in_(ids))).all()
    return {
        r.id: LastDeployment(
            id=r.id,
            commit=r.commit,
            at=iso(r.finished_at) if r.finished_at is not None else None,
            actor=r.actor,
        )
        for r in rows
    }


def redeployed_at(*, session: Session, application: str, environment: str) -> dict[str, datetime]:
    """When each component was last delivered (its newest revision)."""
    query = (
        select(ComponentRevisionRecord.component, func.max(ComponentRevisionRecord.deployed_at))
        .where(
            ComponentRevisionRecord.application == application,
            ComponentRevisionRecord.environment == environment,
        )
        .group_by(col(ComponentRevisionRecord.component))
    )
    found: dict[str, datetime] = {}
    for component, at in session.exec(query).all():
        if at is not None:
            found[component] = as_utc(at) if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return found


def last_touched(*, session: Session, application: str, environment: str) -> datetime | None:
    """When a deployment of the environment last changed (the newest `updated_at` of its
    deployments, any status; a finished one's is when it finished): Lockstep has not touched the
    environment's targets since, unless one is running now. None: never deployed."""
    query = select(func.max(DeploymentRecord.updated_at)).where(
        DeploymentRecord.application == application, DeploymentRecord.environment == environment
    )
    at = session.exec(query).first()
    if at is None:
        return None
    return as_utc(at) if isinstance(at, datetime) else as_utc(datetime.fromisoformat(str(at)))


def record_sweep(
    *,
    session: Session,
    application: str,
    environment: str,
    seen: Sequence[DriftItem],
    state: DriftState,
    reason: str | None,
    pending: Sequence[str],
    now: datetime,
    unread: Iterable[str] = (),
) -> SweepOutcome:
    """Record one sweep of an environment: open items seen again move `last_seen` (and take the
    new decision and last deployment), new ones are added, and open items not seen are resolved
    unless their component is in `unread` (its target could not be read: absence means nothing).
    A resolved item is `remediated` when its remediation deployment succeeded after it was first
    seen, `redeployed` when its component was delivered after that, else `reverted_by_hand`."""
    skip = set(unread)
    open_rows = {_key(r): r for r in _open_rows(session, application, environment)}
    new: list[DriftItem] = []
    done: set[tuple[str, str, str, str, str]] = set()
    for item in seen:
        if item.key in done:  # one difference reported twice is one item
            continue
        done.add(item.key)
        row = open_rows.pop(item.key, None)
        if row is None:
            row = DriftItemRecord(
                application=application,
                environment=environment,
                component=item.component,
                target=item.target,
                host=item.host,
                object=item.object,
                kind=item.kind,
                path=item.path,
                first_seen=now,
                last_seen=now,
            )
            new.append(item)
        row.last_seen = now
        row.target = item.target
        row.decision = item.decision
        row.last_deployment_json = _dump(item.last_deployment)
        session.add(row)
    delivered = redeployed_at(session=session, application=application, environment=environment)
    resolved: list[DriftItem] = []
    for row in open_rows.values():
        if row.component in skip:
            continue
        at = delivered.get(row.component)
        fixed = _succeeded_at(session, row.remediation)
        row.resolution = resolution_for(
            iso(row.first_seen),
            iso(at) if at is not None else None,
            iso(fixed) if fixed is not None else None,
        )
        row.resolved_at = now
        session.add(row)
        resolved.append(_item(row))
    env = session.get(DriftEnvironmentRecord, (application, environment))
    if env is None:
        env = DriftEnvironmentRecord(
            application=application, environment=environment, state=state, checked_at=now
        )
    env.state, env.reason, env.checked_at = state, reason, now
    env.pending_json = json.dumps(list(pending))
    session.add(env)
    session.flush()
    return SweepOutcome(
        new=[_item(r) for r in _rows_for(session, application, environment, new)], resolved=resolved
    )


def _succeeded_at(session: Session, deployment_id: str | None) -> datetime | None:
    """When a deployment finished, if it succeeded."""
    if deployment_id is None:
        return None
    record = session.get(DeploymentRecord, deployment_id)
    if record is None or record.status != DeploymentStatus.SUCCEEDED.value or record.finished_at is None:
        return None
    return as_utc(record.finished_at)


def resolve_items(
    *,
    session: Session,
    application: str,
    environment: str,
    components: Iterable[str] | None = None,
    resolution: str,
    at: datetime,
    remediation: str | None = None,
) -> list[DriftItem]:
    """Resolve the open items of an environment (of `components`, or all) with `resolution`
    (`remediated` after a remediation deployment, with its id); returns what it resolved."""
    wanted = None if components is None else set(components)
    done = []
    for row in _open_rows(session, application, environment):
        if wanted is not None and row.component not in wanted:
            continue
        row.resolved_at, row.resolution = at, resolution
        if remediation is not None:
            row.remediation = remediation
        session.add(row)
        done.append(row)
    session.flush()
    return [_item(r) for r in done]


def set_remediation(
    *,
    session: Session,
    application: str,
    environment: str,
    deployment_id: str,
    keys: Iterable[tuple[str, str, str, str, str]] | None = None,
    only_unnamed: bool = False,
) -> int:
    """Name the remediation deployment started for the open items with these `keys` (or, with
    `only_unnamed`, every open `remediate` item that names none yet)."""
    wanted = None if keys is None else set(keys)
    rows = [
        r
        for r in _open_rows(session, application, environment)
        if (wanted is None or _key(r) in wanted)
        and (not only_unnamed or (r.remediation is None and r.decision == "remediate"))
    ]
    for row in rows:
        row.remediation = deployment_id
        session.add(row)
    session.flush()
    return len(rows)


def drift_views(
    *, session: Session, application: str | None = None, environment: str | None = None
) -> list[EnvironmentDrift]:
    """What the last sweep recorded per environment, with its open items."""
    query = select(DriftEnvironmentRecord)
    if application is not None:
        query = query.where(DriftEnvironmentRecord.application == application)
    if environment is not None:
        query = query.where(DriftEnvironmentRecord.environment == environment)
    query = query.order_by(col(DriftEnvironmentRecord.application), col(DriftEnvironmentRecord.environment))
    views = []
    for env in session.exec(query).all():
        items = [_item(r) for r in _open_rows(session, env.application, env.environment)]
        views.append(
            EnvironmentDrift(
                application=env.application,
                environment=env.environment,
                state=env.state,
                reason=env.reason,
                pending=json.loads(env.pending_json),
                items=items,
                checked_at=iso(env.checked_at),
            )
        )
    return views


def _open_rows(session: Session, application: str, environment: str) -> list[DriftItemRecord]:
    query = (
        select(DriftItemRecord)
        .where(
            DriftItemRecord.application == application,
            DriftItemRecord.environment == environment,
            col(DriftItemRecord.resolved_at).is_(None),
        )
        .order_by(
            col(DriftItemRecord.component),
            col(DriftItemRecord.host),
            col(DriftItemRecord.object),
            col(DriftItemRecord.path),
            col(DriftItemRecord.id),
        )
    )
    return list(session.exec(query).all())


def _rows_for(
    session: Session, application: str, environment: str, items: Sequence[DriftItem]
) -> list[DriftItemRecord]:
    keys = {i.key for i in items}
    return [r for r in _open_rows(session, application, environment) if _key(r) in keys]


def _key(row: DriftItemRecord) -> tuple[str, str, str, str, str]:
    return item_key(row.component, row.host, row.object, row.path, row.kind)


def _dump(last: LastDeployment | None) -> str | None:
    return None if last is None else last.model_dump_json()


def _load(text: str | None) -> LastDeployment | None:
    return None if text is None else LastDeployment.model_validate_json(text)


def _item(row: DriftItemRecord) -> DriftItem:
    fields: Mapping[str, object] = {
        "application": row.application,
        "environment": row.environment,
        "component": row.component,
        "target": row.target,
        "host": row.host,
        "object": row.object,
        "kind": row.kind,
        "path": row.path,
        "first_seen": iso(row.first_seen),
        "last_seen": iso(row.last_seen),
        "last_deployment": _load(row.last_deployment_json),
        "decision": row.decision,
        "remediation": row.remediation,
        "resolved_at": iso(row.resolved_at) if row.resolved_at is not None else None,
        "resolution": row.resolution,
    }
    return DriftItem.model_validate(fields)
