"""A `Store` on the fresh database of `database_url` (SQLite, or PostgreSQL on request)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lockstep.store import Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    yield store
    store.dispose()
