"""`Store.open_existing`: what the read-only commands open. It creates nothing (no folder, no
file, no table) and names a database that is not there."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from lockstep.store.deployments import get_deployment, upsert_deployment
from lockstep.store.engine import DatabaseMissing, Store, StoreUnavailable

pytestmark = pytest.mark.store


def test_a_missing_sqlite_file_is_named_and_nothing_is_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent' / 'lockstep.db'}"
    with pytest.raises(DatabaseMissing) as raised:
        Store.open_existing(url)
    assert f"no database at {tmp_path / 'absent' / 'lockstep.db'}" in str(raised.value)
    assert "database_url sqlite:///" in str(raised.value)
    assert not (tmp_path / "absent").exists()


def test_a_relative_path_is_named_as_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatabaseMissing, match=f"no database at {tmp_path}/.lockstep/lockstep.db "):
        Store.open_existing("sqlite:///.lockstep/lockstep.db")
    assert not (tmp_path / ".lockstep").exists()


def test_an_existing_file_opens_without_tables_being_added(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    store = Store.open_existing(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert inspect(store.engine).get_table_names() == []
    finally:
        store.dispose()


def test_it_reads_what_the_server_wrote(database_url: str) -> None:
    writer = Store.from_url(database_url)
    with writer.session() as session:
        upsert_deployment(
            session=session, id="shop-staging-abc", application="shop", environment="staging",
            commit="abc", repository="/srv/git/shop", trigger="manual", actor="alice", status="queued",
        )  # fmt: skip
    writer.dispose()
    reader = Store.open_existing(database_url)
    try:
        with reader.read_session() as session:
            record = get_deployment(session=session, deployment_id="shop-staging-abc")
        assert record is not None and record.status == "queued"
    finally:
        reader.dispose()


def test_an_unreachable_server_is_named_without_credentials() -> None:
    with pytest.raises(StoreUnavailable) as raised:
        Store.open_existing("postgresql+psycopg://lockstep:s3cret@127.0.0.1:1/none")
    assert "127.0.0.1:1/none" in str(raised.value) and "s3cret" not in str(raised.value)
    assert not isinstance(raised.value, DatabaseMissing)
