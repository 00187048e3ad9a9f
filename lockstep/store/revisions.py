"""Repository functions for component revisions: what each deployment delivered, and what is live.

Owns `record_revisions` (written once a deployment succeeded, idempotent per deployment and
component) and `last_revisions`, the newest revision of every component of an (application,
environment), which change detection and drift compare against. It does not decide which
deployments count as live: callers record revisions only for deployments that succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lockstep.domain.models import DeployedRevision
from lockstep.store.inserts import insert_or_get
from lockstep.store.tables import ComponentRevisionRecord, utcnow


def record_revisions(
    *,
    session: Session,
    application: str,
    environment: str,
    deployment_id: str,
    commit: str,
    hashes: Mapping[str, str],
) -> None:
    """Record that `deployment_id` delivered `hashes` (component -> content hash) at `commit`.

    Recording the same deployment again converges on the given values and keeps the first
    `deployed_at`, so a retried activity neither duplicates rows nor moves them in time.
    """
    existing = {
        row.component: row
        for row in session.exec(
            select(ComponentRevisionRecord).where(ComponentRevisionRecord.deployment_id == deployment_id)
        ).all()
    }
    deployed_at = utcnow()
    missing = [c for c in hashes if c not in existing]
    if missing and _insert_all(
        session, application, environment, deployment_id, commit, hashes, missing, deployed_at
    ):
        return
    for component, content_hash in hashes.items():
        wanted = {
            "application": application,
            "environment": environment,
            "commit": commit,
            "content_hash": content_hash,
        }
        row = existing.get(component)
        if row is None:
            candidate = ComponentRevisionRecord(
                application=application,
                environment=environment,
                component=component,
                commit=commit,
                content_hash=content_hash,
                deployment_id=deployment_id,
                deployed_at=deployed_at,
            )
            row = insert_or_get(session, candidate, partial(_find, session, deployment_id, component))
        for name, value in wanted.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    session.flush()


def _insert_all(
    session: Session,
    application: str,
    environment: str,
    deployment_id: str,
    commit: str,
    hashes: Mapping[str, str],
    missing: list[str],
    deployed_at: datetime,
) -> bool:
    """Fast path, the usual case: nothing of this deployment recorded yet, so insert every row in
    one savepoint. False (nothing written) when a row exists already or a concurrent writer won."""
    if len(missing) != len(hashes):
        return False
    try:
        with session.begin_nested():
            session.add_all(
                ComponentRevisionRecord(
                    application=application,
                    environment=environment,
                    component=component,
                    commit=commit,
                    content_hash=hashes[component],
                    deployment_id=deployment_id,
                    deployed_at=deployed_at,
                )
                for component in missing
            )
            session.flush()
    except IntegrityError:
        return False
    return True


def last_revisions(*, session: Session, application: str, environment: str) -> dict[str, DeployedRevision]:
    """The newest recorded revision of every component of (application, environment).

    One query: rows are ranked per component by `deployed_at` (then id) with a window function,
    served by the (application, environment, component, deployed_at) index.
    """
    rank = (
        func.row_number()
        .over(
            partition_by=col(ComponentRevisionRecord.component),
            order_by=(
                col(ComponentRevisionRecord.deployed_at).desc(),
                col(ComponentRevisionRecord.id).desc(),
            ),
        )
        .label("rank")
    )
    ranked = (
        sa_select(
            col(ComponentRevisionRecord.component),
            col(ComponentRevisionRecord.commit),
            col(ComponentRevisionRecord.content_hash),
            col(ComponentRevisionRecord.deployment_id),
            rank,
        )
        .where(
            col(ComponentRevisionRecord.application) == application,
            col(ComponentRevisionRecord.environment) == environment,
        )
        .subquery()
    )
    query = select(ranked.c.component, ranked.c.commit, ranked.c.content_hash, ranked.c.deployment_id).where(
        ranked.c.rank == 1
    )
    return {
        component: DeployedRevision(
            component=component, commit=commit, content_hash=content_hash, deployment_id=deployment_id
        )
        for component, commit, content_hash, deployment_id in session.exec(query).all()
    }


def _find(session: Session, deployment_id: str, component: str) -> ComponentRevisionRecord | None:
    query = select(ComponentRevisionRecord).where(
        ComponentRevisionRecord.deployment_id == deployment_id,
        ComponentRevisionRecord.component == component,
    )
    return session.exec(query).first()
