"""Engines, schema and transactional sessions on SQLite and (on request) PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from lockstep.store import Store, create_schema, make_engine
from lockstep.store.deployments import get_deployment, upsert_deployment
from lockstep.store.inserts import insert_or_get
from lockstep.store.tables import DeploymentRecord, PriorReleaseRecord


def _deployment(store: Store, deployment_id: str = "shop-staging-abc") -> None:
    with store.session() as session:
        upsert_deployment(
            session=session,
            id=deployment_id,
            application="shop",
            environment="staging",
            commit="abc",
            repository="/srv/git/shop",
            trigger="manual",
            actor="alice",
            status="queued",
        )


def test_schema_has_every_table(store: Store) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert {"deployments", "deployment_steps", "component_revisions", "prior_releases"} <= names
    create_schema(store.engine)  # a second time is harmless


def test_sqlite_file_folder_is_created_and_tuned(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'lockstep.db'}"
    store = Store.from_url(url)
    try:
        assert (tmp_path / "nested" / "dir" / "lockstep.db").exists()
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    finally:
        store.dispose()


def test_in_memory_sqlite_is_shared_between_sessions_and_threads() -> None:
    store = Store.from_url("sqlite://")
    found: list[bool] = []
    _deployment(store)

    def read() -> None:
        with store.session() as session:
            found.append(get_deployment(session=session, deployment_id="shop-staging-abc") is not None)

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert found == [True]


def test_postgresql_urls_use_psycopg_and_ping() -> None:
    engine = make_engine("postgresql://lockstep@db.example.com/lockstep")
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.pool._pre_ping


def test_session_commits_on_success_and_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.session() as session:
        upsert_deployment(
            session=session,
            id="rolled-back",
            application="shop",
            environment="staging",
            commit="abc",
            repository="/srv/git/shop",
            trigger="manual",
            actor=None,
            status="queued",
        )
        raise RuntimeError("boom")
    _deployment(store)

    with store.session() as session:
        ids = [r.id for r in session.exec(select(DeploymentRecord)).all()]
    assert ids == ["shop-staging-abc"]


def test_records_stay_readable_after_the_session(store: Store) -> None:
    _deployment(store)
    with store.session() as session:
        record = get_deployment(session=session, deployment_id="shop-staging-abc")
    assert record is not None and record.application == "shop"


def test_datetimes_come_back_aware_and_in_utc(store: Store) -> None:
    berlin = timezone(timedelta(hours=2))
    commit_time = datetime(2026, 3, 1, 10, 20, 30, 123456, tzinfo=berlin)
    with store.session() as session:
        upsert_deployment(
            session=session,
            id="d1",
            application="shop",
            environment="staging",
            commit="abc",
            repository="/srv/git/shop",
            trigger="manual",
            actor=None,
            status="succeeded",
            commit_timestamp=commit_time,
        )
    store.engine.dispose()  # read back from the database, not from memory

    with store.session() as session:
        record = session.exec(select(DeploymentRecord)).one()
    assert record.commit_timestamp == commit_time
    assert record.commit_timestamp is not None and record.commit_timestamp.utcoffset() == timedelta(0)
    for value in (record.created_at, record.updated_at, record.finished_at):
        assert value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - value) < timedelta(minutes=5)


def test_insert_or_get_returns_the_stored_row_and_keeps_the_transaction(store: Store) -> None:
    with store.session() as session:
        session.add(
            PriorReleaseRecord(
                deployment_id="d", component="web", host="h", dest="/srv", previous_release="r1"
            )
        )

    def find() -> PriorReleaseRecord | None:
        query = select(PriorReleaseRecord).where(PriorReleaseRecord.deployment_id == "d")
        return session.exec(query).first()

    with store.session() as session:
        late = PriorReleaseRecord(
            deployment_id="d", component="web", host="h", dest="/srv", previous_release="r2"
        )
        stored = insert_or_get(session, late, find)
        assert stored.previous_release == "r1"
        session.add(PriorReleaseRecord(deployment_id="d", component="web", host="h2", dest="/srv"))

    with store.session() as session:
        rows = session.exec(select(PriorReleaseRecord).order_by(PriorReleaseRecord.host)).all()
    assert [(r.host, r.previous_release) for r in rows] == [("h", "r1"), ("h2", None)]


def test_a_read_session_sees_a_snapshot_and_lets_another_process_write(store: Store) -> None:
    _deployment(store, "before")
    other = Store.from_url(str(store.engine.url.render_as_string(hide_password=False)))
    try:
        with store.read_session() as session:
            seen = session.exec(select(DeploymentRecord)).all()
            done = threading.Event()

            def write() -> None:  # another process's engine: SQLite's write lock must be free
                _deployment(other, "during")
                done.set()

            writer = threading.Thread(target=write)
            writer.start()
            writer.join(timeout=10)
            assert done.is_set(), "a writer waited on the read session"
            again = session.exec(select(DeploymentRecord)).all()
        assert [r.id for r in again] == [r.id for r in seen] == ["before"], "one snapshot throughout"
        assert seen[0].application == "shop", "rows read stay usable after the session"
    finally:
        other.dispose()
    with store.session() as session:
        assert {r.id for r in session.exec(select(DeploymentRecord)).all()} == {"before", "during"}
