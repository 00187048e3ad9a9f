"""Database engines and sessions for the system of record (SQLite by default, PostgreSQL by URL).

Owns connection settings and transaction boundaries: SQLite runs in WAL mode with a busy timeout
and takes the write lock when a transaction begins (`BEGIN IMMEDIATE`), so concurrent writers
queue instead of failing half-way and savepoints work; PostgreSQL connections are pinged before
use. It does not migrate schemas: `create_schema` creates missing tables and leaves existing
ones alone. Commands that only read open the store with `Store.open_existing`, which creates
nothing (no folder, no file, no table) and names a database that is not there.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from lockstep.domain.errors import LockstepError
from lockstep.domain.redaction import safe_url
from lockstep.store import audit as _audit  # noqa: F401  (registers the audit tables)
from lockstep.store import drift as _drift  # noqa: F401  (registers the drift tables)
from lockstep.store import inventory as _inventory  # noqa: F401  (registers the Kubernetes inventory)
from lockstep.store import tables as _tables  # noqa: F401  (registers the tables on the metadata)
from lockstep.store.migrations import add_missing_columns, upgrade_schema


def make_engine(url: str, *, create_folder: bool = True) -> Engine:
    """An engine for `url`: `sqlite:///path.db` (folder created unless told not to) or
    `postgresql+psycopg://...`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, create_folder=create_folder)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver we ship
    return create_engine(parsed, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create every table registered on the SQLModel metadata that does not exist yet, and add
    the nullable columns newer versions added to existing ones (`lockstep.store.migrations`)."""
    upgrade_schema(engine)


class StoreUnavailable(LockstepError):
    retryable = True


class DatabaseMissing(StoreUnavailable):
    """The configured SQLite file does not exist: nothing has run with this configuration yet, or
    the configuration names another database than the server's."""

    retryable = False


class Store:
    """The system of record: an engine plus transactional sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time and every session begins IMMEDIATE: threads of this
        # process queue on a lock instead of in SQLite's busy handler, whose back-off sleeps
        # (up to 100 ms) dominate when a wave's activities write at once. Other processes
        # still wait through busy_timeout.
        self._lock: threading.RLock | contextlib.nullcontext[None] = (
            threading.RLock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Connect and create missing tables; StoreUnavailable names the (credential-free) URL."""
        try:
            engine = make_engine(url)
            create_schema(engine)
        except (SQLAlchemyError, OSError, ImportError) as err:
            cause = str(err.orig if isinstance(err, DBAPIError) else err).strip().splitlines()[0]
            raise StoreUnavailable(f"database {safe_url(url)} is unavailable: {cause}") from None
        return cls(engine)

    @classmethod
    def open_existing(cls, url: str) -> Store:
        """Open a database that is already there, creating nothing: for commands that only read.

        DatabaseMissing names a SQLite file that does not exist (as written and as resolved);
        StoreUnavailable any other database that cannot be reached.
        """
        try:
            parsed = make_url(url)
            file = sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
            if file is not None and file.is_dir():
                raise StoreUnavailable(f"database {safe_url(url)} names a folder, not a database file")
            if file is not None and not file.exists():
                raise DatabaseMissing(
                    f"no database at {file.resolve()} (database_url {safe_url(url)}): nothing has "
                    "run with this configuration yet, or it is not the server's (LOCKSTEP_CONFIG, "
                    "LOCKSTEP_DATABASE_URL)"
                )
            engine = make_engine(url, create_folder=False)
            with engine.connect():  # reach it now, so that a bad URL is named here
                pass
            # A database an older version last opened lacks the columns this one reads: adding
            # them (nullable, nothing rewritten) is not creating a database.
            add_missing_columns(engine)
        except (SQLAlchemyError, OSError, ImportError) as err:
            cause = str(err.orig if isinstance(err, DBAPIError) else err).strip().splitlines()[0]
            raise StoreUnavailable(f"database {safe_url(url)} is unavailable: {cause}") from None
        return cls(engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises.

        Records stay readable after the block (no expiry on commit).
        """
        with self._lock, Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only session seeing one consistent snapshot, without taking SQLite's write lock
        (a long read, like verifying the audit trail, must not stall the workers' writes). It
        rolls back at the end: nothing written in it is kept."""
        options: dict[str, Any] = {"lockstep_read_only": True}
        if self.engine.dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"  # one snapshot for the whole session
        engine = self.engine.execution_options(**options)
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                session.expunge_all()  # rows read stay usable; rollback would expire them
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names; None for an in-memory database or a `file:` URI."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _sqlite_engine(url: URL, *, create_folder: bool) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        options["poolclass"] = StaticPool  # one shared connection, or every session sees a new db
    elif create_folder:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from sqlite3 (it would BEGIN lazily, before the first
        # write only) so that the BEGIN below covers reads too and SAVEPOINTs nest properly.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL stays consistent and durable across process crashes; only an OS
            # crash or power loss may drop the last commits. PostgreSQL is the production store.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # IMMEDIATE: writers wait (busy_timeout) for the lock up front instead of failing when a
        # read transaction tries to upgrade after another writer committed. Readers in WAL mode
        # are not blocked by it.
        # A read session begins DEFERRED: in WAL mode its first read fixes a snapshot.
        read_only = connection.get_execution_options().get("lockstep_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
