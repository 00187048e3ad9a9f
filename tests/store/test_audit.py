"""The audit trail: a gapless hash chain, idempotent appends, and tampering found row by row.

Tampering is done with raw SQL on the session's connection, as someone with database access
would, bypassing the repository functions.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from lockstep.domain.audit import AuditEntry, AuditKind
from lockstep.store import Store
from lockstep.store.audit import (
    GENESIS_HASH,
    AuditEventRecord,
    AuditVerification,
    append_entry,
    entry_hash,
    events_for,
    verify_chain,
)

pytestmark = pytest.mark.store

T0 = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)


def entry(n: int, **overrides: Any) -> AuditEntry:
    fields: dict[str, Any] = {
        "key": f"wf-{n}/run/1/{n}",
        "kind": AuditKind.STEP_FINISHED,
        # A non-UTC offset: the hash is computed from the UTC value both databases hand back.
        "at": (T0 + timedelta(seconds=n)).astimezone(timezone(timedelta(hours=2))).isoformat(),
        "deployment_id": f"d{n % 2}",
        "application": "shop",
        "environment": "staging",
        "detail": {"component": "web", "n": n, "ratio": 0.5, "hosts": ["a", "b"], "ok": True},
    }
    fields.update(overrides)
    return AuditEntry(**fields)


def append(store: Store, *entries: AuditEntry) -> list[AuditEventRecord]:
    with store.session() as session:
        return [append_entry(session=session, entry=e) for e in entries]


def verify(store: Store) -> AuditVerification:
    with store.session() as session:
        return verify_chain(session=session)


def sql(store: Store, statement: str, **params: Any) -> None:
    with store.session() as session:
        session.connection().execute(text(statement), params)


def count(store: Store) -> int:
    with store.session() as session:
        return session.exec(select(func.count()).select_from(AuditEventRecord)).one()


@pytest.fixture
def chained(store: Store) -> Store:
    for n in range(1, 6):
        append(store, entry(n, actor="alice" if n == 3 else None))
    assert verify(store).ok
    return store


def test_a_chain_of_entries_verifies(store: Store) -> None:
    assert verify(store) == AuditVerification(ok=True, checked=0, head_hash=None, problems=[])
    rows = append(store, *(entry(n) for n in range(1, 5)))
    rows += append(store, entry(5, kind=AuditKind.APPROVAL, actor="alice", actor_source="api-token"))

    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    result = verify(store)
    assert result.ok, result.problems
    assert result.checked == 5 and result.head_hash == rows[-1].hash
    with store.session() as session:
        assert verify_chain(session=session, anchor=rows[2].hash).ok
        assert not verify_chain(session=session, anchor="f" * 64).ok

    with store.session() as session:
        latest = events_for(session=session, limit=2)
        of_d1 = events_for(session=session, deployment_id="d1")
    assert [r.seq for r in latest] == [4, 5]
    assert [r.seq for r in of_d1] == [1, 3, 5]
    assert latest[-1].actor == "alice" and latest[-1].kind == "approval"
    assert latest[-1].at == T0 + timedelta(seconds=5)


def test_a_key_is_written_once(store: Store) -> None:
    first = append(store, entry(1))[0]
    again = append(store, entry(1), entry(1, detail={"different": True}))

    assert count(store) == 1
    assert {r.seq for r in again} == {1} and again[0].hash == first.hash
    assert verify(store).ok


def test_concurrent_appends_make_one_gapless_chain(store: Store) -> None:
    threads, per_thread = 6, 8
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def writer(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                # Every thread also retries its neighbour's keys: each is still written once.
                for key_owner in (t, (t + 1) % threads):
                    append(store, entry(100 * key_owner + i, key=f"t{key_owner}/{i}"))
        except BaseException as err:  # reported below
            errors.append(err)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert not errors, errors
    result = verify(store)
    assert result.ok, result.problems
    assert result.checked == count(store) == threads * per_thread
    with store.session() as session:
        seqs = [r.seq for r in events_for(session=session, limit=1000)]
    assert seqs == list(range(1, threads * per_thread + 1))


def problems_after(store: Store, statement: str, **params: Any) -> list[str]:
    sql(store, statement, **params)
    result = verify(store)
    assert not result.ok
    return result.problems


def test_an_edited_detail_is_named(chained: Store) -> None:
    problems = problems_after(
        chained, "UPDATE audit_events SET detail_json = :d WHERE seq = 3", d='{"component":"db"}'
    )
    assert problems == ["seq 3 (key 'wf-3/run/1/3'): content does not match its hash (row edited)"]


def test_an_edited_actor_and_broken_json_are_named(chained: Store) -> None:
    sql(chained, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    problems = problems_after(chained, "UPDATE audit_events SET detail_json = 'oops' WHERE seq = 4")
    assert [p.split(":")[0] for p in problems] == ["seq 3 (key 'wf-3/run/1/3')", "seq 4 (key 'wf-4/run/1/4')"]


def test_a_deleted_middle_row_is_named(chained: Store) -> None:
    problems = problems_after(chained, "DELETE FROM audit_events WHERE seq = 3")
    assert problems == ["entries missing before seq 4 (key 'wf-4/run/1/4'): seq 3 deleted"]


def test_a_deleted_newest_row_is_caught_by_the_head(chained: Store) -> None:
    problems = problems_after(chained, "DELETE FROM audit_events WHERE seq >= 4")
    assert problems == [
        "the head records seq 5 but the last entry is seq 3 (key 'wf-3/run/1/3'): newest entries deleted"
    ]


def test_a_deleted_head_row_is_named_and_stops_appends(chained: Store) -> None:
    problems = problems_after(chained, "DELETE FROM audit_head")
    assert problems == ["the audit head row is missing (last entry: seq 5)"]
    with pytest.raises(Exception, match="audit head row is missing"):
        append(chained, entry(6))


def test_swapped_rows_are_named(chained: Store) -> None:
    # Move seq 2 and 3 past each other through a free seq (the primary key forbids a direct swap).
    sql(chained, "UPDATE audit_events SET seq = 1000 WHERE seq = 2")
    sql(chained, "UPDATE audit_events SET seq = 2 WHERE seq = 3")
    problems = problems_after(chained, "UPDATE audit_events SET seq = 3 WHERE seq = 1000")
    assert "seq 2 (key 'wf-3/run/1/3'): content does not match its hash (row edited)" in problems
    assert "seq 3 (key 'wf-2/run/1/2'): content does not match its hash (row edited)" in problems
    assert any(p.startswith("seq 2 (key 'wf-3/run/1/3'): prev_hash does not match") for p in problems)


def test_swapped_contents_are_named(chained: Store) -> None:
    columns = "key, kind, actor, actor_source, deployment_id, detail_json, at, prev_hash, hash"
    with chained.session() as session:
        select_row = text(f"SELECT {columns} FROM audit_events WHERE seq = :seq")
        rows = {seq: session.connection().execute(select_row, {"seq": seq}).one() for seq in (2, 3)}
        session.connection().execute(text("UPDATE audit_events SET key = 'tmp' WHERE seq = 2"))
        for seq, other in ((3, 2), (2, 3)):
            values = dict(rows[other]._mapping)
            assignments = ", ".join(f"{c} = :{c}" for c in values)
            session.connection().execute(
                text(f"UPDATE audit_events SET {assignments} WHERE seq = :seq"), {**values, "seq": seq}
            )
    result = verify(chained)
    assert not result.ok
    assert any(p.startswith("seq 2 (key 'wf-3/run/1/3'): content does not match") for p in result.problems)
    assert any(p.startswith("seq 3 (key 'wf-2/run/1/2'): content does not match") for p in result.problems)


def db_time(store: Store, value: datetime) -> Any:
    """`value` as raw SQL must bind it: SQLite keeps UTC digits without an offset."""
    return value.replace(tzinfo=None) if store.engine.dialect.name == "sqlite" else value


_INSERT = (
    "INSERT INTO audit_events (seq, key, kind, actor, actor_source, detail_json, at, recorded_at,"
    " prev_hash, hash) VALUES (:seq, :key, 'approval', 'mallory', 'system', '{}', :at, :at, :prev, :hash)"
)


def test_a_forged_row_is_named(chained: Store) -> None:
    with chained.session() as session:
        last = session.exec(select(AuditEventRecord).where(AuditEventRecord.seq == 5)).one()
    # A forger who knows the hash rule and links the row properly: the head gives it away.
    forged = AuditEventRecord(
        seq=6, key="forged/1", kind="approval", actor="mallory", at=T0, prev_hash=last.hash, hash=""
    )
    forged.hash = entry_hash(forged)
    problems = problems_after(
        chained, _INSERT, seq=6, key="forged/1", at=db_time(chained, T0), prev=last.hash, hash=forged.hash
    )
    assert problems == [
        "entries after the head (seq 6..6, last key 'forged/1') were not appended through Lockstep (inserted)"
    ]


def test_a_row_inserted_in_the_middle_is_named(chained: Store) -> None:
    sql(chained, "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3")
    sql(chained, "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 100")
    problems = problems_after(
        chained, _INSERT, seq=3, key="forged/2", at=db_time(chained, T0), prev="0" * 64, hash="0" * 64
    )
    assert "seq 3 (key 'forged/2'): content does not match its hash (row edited)" in problems
    assert any(p.startswith("seq 3 (key 'forged/2'): prev_hash does not match") for p in problems)
    assert any(p.startswith("seq 4 (key 'wf-3/run/1/3'): content does not match") for p in problems)
    assert any(p.startswith("entries after the head (seq 6..6") for p in problems)
