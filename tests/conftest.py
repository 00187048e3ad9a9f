"""Shared fixtures.

`database_url`: a fresh, empty database for each test. SQLite (a file in tmp_path) by default;
with LOCKSTEP_TEST_DATABASE=postgresql, one PostgreSQL database per test session on
127.0.0.1:5432 (user postgres, trust auth; LOCKSTEP_TEST_POSTGRES_ADMIN_URL overrides the
maintenance connection), emptied before each test and dropped at the end.

Every test that uses `database_url` (itself or through another fixture: `store`, `settings`,
`worker`, ...) is marked `store`, as are the tests marked so by hand: `make test-postgres` runs
`-m store` on PostgreSQL, every test whose outcome can depend on the database and no other (the
others never see a database, so a second run would repeat the first).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import hypothesis  # noqa: F401  (imported before any thread starts: see below)
import psycopg
import pytest

# CPython 3.11.7 can fail an `ast.parse` with "AST constructor recursion depth mismatch" when a
# module is first compiled mid-run while worker threads are busy; hypothesis's pytest plugin
# otherwise imports (and pytest rewrites) hypothesis lazily at the end of the session.

pytest_plugins = ["tests.support.fixtures"]

_ADMIN_URL = os.environ.get(
    "LOCKSTEP_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.store)


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str]:
    """Create one database for the whole session and drop it (FORCE) when the session ends."""
    name = f"lockstep_test_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as e:
        pytest.fail(f"LOCKSTEP_TEST_DATABASE=postgresql but PostgreSQL is unusable at {_ADMIN_URL}: {e}")
    base = psycopg.conninfo.conninfo_to_dict(_ADMIN_URL)
    user, host, port = base.get("user", "postgres"), base.get("host", "127.0.0.1"), base.get("port", 5432)
    yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    with psycopg.connect(_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if os.environ.get("LOCKSTEP_TEST_DATABASE", "sqlite") != "postgresql":
        return f"sqlite:///{tmp_path / 'lockstep.db'}"
    url: str = request.getfixturevalue("_postgres_database")
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # Connections pooled by an earlier test's engine would hold locks on the old tables.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url
