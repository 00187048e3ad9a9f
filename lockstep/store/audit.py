"""The tamper-evident audit trail: an append-only, hash-chained table plus a one-row head.

Owns the `audit_events` and `audit_head` tables, appending (idempotent by key, serialised so the
chain never forks) and verification. Every entry's `hash` is a SHA-256 over the canonical JSON
of its content, its sequence number and the previous entry's hash, so editing, deleting,
reordering or inserting a row breaks the chain. `audit_head` holds the last sequence number
and hash, written in the same transaction as the entry, so deleting the newest rows shows too.

Limits, stated plainly: whoever can write the database can rewrite the whole chain and the head
consistently; only a hash recorded elsewhere (an external anchor: the head hash printed by
`lockstep audit verify`) catches that. `recorded_at` (the database-side wall clock) is not
hashed. This module does not decide what is recorded; callers build `AuditEntry`s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, text
from sqlmodel import Field, Session, SQLModel, col, select

from lockstep.domain.audit import AuditEntry, AuditKind
from lockstep.domain.errors import LockstepError
from lockstep.store.tables import UTCDateTime, as_utc, utcnow

GENESIS_HASH = "0" * 64
_HEAD_ID = 1
# pg_advisory_xact_lock key shared by every Lockstep process writing this database's trail.
_ADVISORY_LOCK = 0x4C6F636B41756474  # "LockAudt"
_BATCH = 500


class AuditEventRecord(SQLModel, table=True):
    """One entry of the chain; `seq` is gapless from 1, assigned at append."""

    __tablename__ = "audit_events"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    key: str = Field(unique=True)
    kind: str
    actor: str | None = None
    actor_source: str = "system"
    deployment_id: str | None = Field(default=None, index=True)
    application: str | None = None
    environment: str | None = None
    detail_json: str = Field(default="{}", sa_type=Text)  # canonical JSON
    at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    prev_hash: str
    hash: str


class AuditHeadRecord(SQLModel, table=True):
    """The single row (`id` 1) naming the newest entry, updated with every append."""

    __tablename__ = "audit_head"

    id: int = Field(default=_HEAD_ID, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int
    hash: str
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditChainBroken(LockstepError):
    """The trail is inconsistent (e.g. its head row is gone): appending would hide the damage."""


@dataclass
class AuditVerification:
    ok: bool
    checked: int
    head_hash: str | None
    problems: list[str] = field(default_factory=list)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 as is, no NaN: one text for one value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def normalised_at(value: datetime) -> str:
    """`value` in UTC with microseconds: what both SQLite and PostgreSQL hand back."""
    return as_utc(value).isoformat(timespec="microseconds")


def entry_hash(record: AuditEventRecord) -> str:
    """The hash `record` must carry, computed from its stored content."""
    payload = {
        "seq": record.seq,
        "key": record.key,
        "kind": record.kind,
        "actor": record.actor,
        "actor_source": record.actor_source,
        "deployment_id": record.deployment_id,
        "application": record.application,
        "environment": record.environment,
        "detail": json.loads(record.detail_json),
        "at": normalised_at(record.at),
        "prev_hash": record.prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def append_entry(*, session: Session, entry: AuditEntry) -> AuditEventRecord:
    """Append `entry` to the chain, or return the row already stored under its key.

    Serialised across writers: SQLite sessions hold the write lock from their first statement
    (BEGIN IMMEDIATE); on PostgreSQL a transaction-level advisory lock is taken first, so the
    key lookup and the head read below see every append committed before ours.
    """
    _lock(session, shared=False)
    existing = _by_key(session, entry.key)
    if existing is not None:
        return existing  # a retried or replayed activity: nothing is written twice
    head = session.get(AuditHeadRecord, _HEAD_ID, populate_existing=True)
    if head is None:
        if session.exec(select(AuditEventRecord.seq).limit(1)).first() is not None:
            raise AuditChainBroken("the audit head row is missing; run `lockstep audit verify`")
        head = AuditHeadRecord(id=_HEAD_ID, seq=0, hash=GENESIS_HASH)
    # Microseconds in UTC: the stored value reads back equal on both databases, so the hash
    # computed now is the hash verification recomputes.
    at = datetime.fromisoformat(entry.at).astimezone(UTC)
    detail = entry.model_dump(mode="json")["detail"]
    record = AuditEventRecord(
        seq=head.seq + 1,
        key=entry.key,
        kind=entry.kind.value,
        actor=entry.actor,
        actor_source=entry.actor_source,
        deployment_id=entry.deployment_id,
        application=entry.application,
        environment=entry.environment,
        detail_json=canonical_json(detail),
        at=at,
        prev_hash=head.hash,
        hash="",
    )
    record.hash = entry_hash(record)
    head.seq, head.hash, head.updated_at = record.seq, record.hash, utcnow()
    session.add(record)
    session.add(head)
    session.flush()
    return record


def verify_chain(*, session: Session, anchor: str | None = None) -> AuditVerification:
    """Check every entry in sequence order against its hash, its predecessor and the head.

    Names each edited row (hash mismatch), gap (deleted rows), broken link (reordered or
    inserted rows) and disagreement with the head (newest rows deleted, rows added behind the
    store's back). With `anchor` (a head hash recorded earlier), also requires that hash to be
    in the chain. The rows and the head must be read consistently: in a snapshot
    (`Store.read_session`), or else appends wait while this runs.
    """
    if session.connection().get_isolation_level() not in ("REPEATABLE READ", "SERIALIZABLE"):
        _lock(session, shared=True)
    head = session.get(AuditHeadRecord, _HEAD_ID, populate_existing=True)
    problems: list[str] = []
    expected_seq, prev_hash = 1, GENESIS_HASH
    checked, last, anchored = 0, None, anchor is None
    for row in _rows_in_order(session):
        checked += 1
        name = f"seq {row.seq} (key {row.key!r})"
        if row.seq != expected_seq:
            missing = f"seq {expected_seq}" + (f"..{row.seq - 1}" if row.seq - 1 > expected_seq else "")
            problems.append(f"entries missing before {name}: {missing} deleted")
        elif row.prev_hash != prev_hash:
            problems.append(
                f"{name}: prev_hash does not match the previous entry's hash (rows reordered or inserted)"
            )
        if _recomputed(row) != row.hash:
            problems.append(f"{name}: content does not match its hash (row edited)")
        anchored = anchored or row.hash == anchor
        expected_seq, prev_hash, last = row.seq + 1, row.hash, row
    problems.extend(_head_problems(head, last))
    if not anchored:
        problems.append(f"anchor {anchor} is not the hash of any entry (chain rewritten)")
    head_hash = last.hash if last is not None else None
    return AuditVerification(ok=not problems, checked=checked, head_hash=head_hash, problems=problems)


def events_for(
    *, session: Session, deployment_id: str | None = None, limit: int = 200
) -> list[AuditEventRecord]:
    """The newest `limit` entries (of one deployment, or all), oldest first."""
    query = select(AuditEventRecord)
    if deployment_id is not None:
        query = query.where(AuditEventRecord.deployment_id == deployment_id)
    rows = session.exec(query.order_by(col(AuditEventRecord.seq).desc()).limit(limit)).all()
    return list(reversed(rows))


def _lock(session: Session, *, shared: bool) -> None:
    if session.get_bind().dialect.name == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        session.connection().execute(text(f"SELECT {function}(:key)"), {"key": _ADVISORY_LOCK})
    # SQLite: every Store session began IMMEDIATE and already holds the database's write lock.


def _by_key(session: Session, key: str) -> AuditEventRecord | None:
    query = select(AuditEventRecord).where(AuditEventRecord.key == key)
    return session.exec(query.execution_options(populate_existing=True)).first()


def _rows_in_order(session: Session) -> Iterator[AuditEventRecord]:
    """Every entry by ascending seq, read in keyset batches so a long trail never sits in memory."""
    after = 0
    while True:
        query = (
            select(AuditEventRecord)
            .where(col(AuditEventRecord.seq) > after)
            .order_by(col(AuditEventRecord.seq))
            .limit(_BATCH)
        )
        batch = session.exec(query.execution_options(populate_existing=True)).all()
        for row in batch:
            yield row
            session.expunge(row)  # verification only reads: keep the identity map small
        if len(batch) < _BATCH:
            return
        after = batch[-1].seq


def _recomputed(row: AuditEventRecord) -> str | None:
    try:
        return entry_hash(row)
    except (ValueError, TypeError):  # detail_json edited into something that is not JSON
        return None


def _head_problems(head: AuditHeadRecord | None, last: AuditEventRecord | None) -> list[str]:
    if head is None:
        return [] if last is None else [f"the audit head row is missing (last entry: seq {last.seq})"]
    if last is None:
        return [] if head.seq == 0 else [f"the head records seq {head.seq} but no entries exist"]
    if head.seq > last.seq:
        return [
            f"the head records seq {head.seq} but the last entry is seq {last.seq} "
            f"(key {last.key!r}): newest entries deleted"
        ]
    if head.seq < last.seq:
        return [
            f"entries after the head (seq {head.seq + 1}..{last.seq}, last key {last.key!r}) "
            "were not appended through Lockstep (inserted)"
        ]
    if head.hash != last.hash:
        return [f"the head hash does not match seq {last.seq} (key {last.key!r}): newest entry replaced"]
    return []


def started_actor_source(*, session: Session, deployment_id: str) -> str:
    """How the actor of a deployment was established, as its `started` entry recorded it
    ("" when there is none yet)."""
    query = (
        select(AuditEventRecord.actor_source)
        .where(
            AuditEventRecord.deployment_id == deployment_id, AuditEventRecord.kind == AuditKind.STARTED.value
        )
        .order_by(col(AuditEventRecord.seq))
        .limit(1)
    )
    return session.exec(query).first() or ""
