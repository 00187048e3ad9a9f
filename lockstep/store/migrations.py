"""Bringing an existing system of record up to the tables this version declares.

Owns additive changes only: a table that is missing is created (`SQLModel.metadata.create_all`),
and a nullable column a newer version added to an existing table is added with
`ALTER TABLE … ADD COLUMN`, on SQLite and PostgreSQL alike. Rows are never rewritten and nothing
is dropped, so an older worker still sharing the database keeps working (it ignores the column).

Deliberately does not: rename, drop or retype columns, or backfill values. A change of that kind
needs a real migration tool and a release note.
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import Column, CreateColumn
from sqlmodel import SQLModel


def upgrade_schema(engine: Engine) -> list[str]:
    """Create missing tables and add missing nullable columns; the `table.column`s added."""
    SQLModel.metadata.create_all(engine)
    return add_missing_columns(engine)


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the nullable columns a newer version declares to the tables that exist, creating no
    table: what a command that only reads may do to a database an older version last opened."""
    existing_tables = inspect(engine).get_table_names()
    added: list[str] = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        present = {c["name"] for c in inspect(engine).get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in present]
        for column in missing:
            if not column.nullable or column.primary_key:
                raise RuntimeError(
                    f"table {table.name} lacks the required column {column.name}: this database "
                    "needs a migration this version cannot make on its own"
                )
            _add_column(engine, table.name, column)
            added.append(f"{table.name}.{column.name}")
    return added


def _add_column(engine: Engine, table: str, column: Column[object]) -> None:
    definition = CreateColumn(column).compile(dialect=engine.dialect)
    quoted = engine.dialect.identifier_preparer.quote(table)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"ALTER TABLE {quoted} ADD COLUMN {definition}")
    except DBAPIError:
        # Another process (the API and the worker start together) added it first: fine.
        if column.name not in {c["name"] for c in inspect(engine).get_columns(table)}:
            raise
