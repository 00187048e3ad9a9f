"""Race-safe "insert unless present" for rows keyed by a primary or unique key.

Owns the one pattern every idempotent write needs when two workers may insert the same key at
once: insert inside a SAVEPOINT, and on a unique violation roll back only the savepoint and read
the row the other writer committed. It does not decide what to update afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

RowT = TypeVar("RowT", bound=SQLModel)


def insert_or_get(session: Session, row: RowT, find: Callable[[], RowT | None]) -> RowT:
    """Insert `row` and return it; when its key already exists, return the row `find` reads."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        # Only the savepoint is rolled back; the caller's transaction stays usable.
        existing = find()
        if existing is None:
            raise
        return existing
