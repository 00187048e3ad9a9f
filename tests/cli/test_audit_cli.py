"""`lockstep audit verify|list` as a user runs them, on a SQLite database edited by hand.

The tampering goes through the `sqlite3` module directly, as someone with the database file
would; the command must then fail and name the row. (The store tests cover PostgreSQL.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from lockstep.domain.audit import AuditEntry, AuditKind
from lockstep.settings import Settings
from lockstep.store import Store
from lockstep.store.audit import append_entry
from tests.cli.conftest import Cli


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "lockstep.db"
    store = Store.from_url(f"sqlite:///{path}")
    with store.session() as session:
        for n, kind in enumerate((AuditKind.STARTED, AuditKind.APPROVAL, AuditKind.FINISHED), start=1):
            entry = AuditEntry(
                key=f"d1/run/{n}",
                kind=kind,
                at=f"2026-11-22T10:0{n}:00+01:00",
                actor="alice" if kind == AuditKind.APPROVAL else None,
                actor_source="temporal-signal" if kind == AuditKind.APPROVAL else "system",
                deployment_id="d1",
                application="shop",
                environment="production",
                detail={"comment": "looks [good]"} if kind == AuditKind.APPROVAL else {},
            )
            append_entry(session=session, entry=entry)
    store.dispose()
    return path


@pytest.fixture
def cli(cli_for: Callable[[Settings], Cli], database: Path) -> Cli:
    return cli_for(Settings(temporal={"address": "127.0.0.1:1"}, database_url=f"sqlite:///{database}"))


async def test_verify_passes_then_names_the_edited_row(cli: Cli, database: Path) -> None:
    intact = await cli("audit", "verify")
    assert intact.code == 0, intact.stderr
    assert intact.stdout.startswith("audit trail intact: 3 entries, head ")
    head = intact.stdout.split("head ")[1].strip()
    as_json = json.loads((await cli("audit", "verify", "--output", "json")).stdout)
    assert as_json == {"ok": True, "checked": 3, "head_hash": head, "problems": []}

    with sqlite3.connect(database) as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE key = 'd1/run/2'")

    broken = await cli("audit", "verify")
    assert broken.code == 1
    assert "seq 2 (key 'd1/run/2'): content does not match its hash (row edited)" in broken.stdout
    assert "Traceback" not in broken.stderr
    report = await cli("audit", "verify", "--output", "json")
    assert report.code == 1 and json.loads(report.stdout)["ok"] is False
    anchored = await cli("audit", "verify", "--anchor", head)
    assert anchored.code == 1  # the anchor is still there, but the edit is not forgiven


async def test_list_shows_entries(cli: Cli) -> None:
    listed = await cli("audit", "list", "--deployment", "d1", "--output", "json")
    assert listed.code == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[1]["actor"] == "alice" and entries[1]["actor_source"] == "temporal-signal"
    assert entries[1]["detail"] == {"comment": "looks [good]"}
    assert entries[0]["at"] == "2026-11-22T09:01:00.000000+00:00"

    text = await cli("audit", "list", "--limit", "2")
    assert text.code == 0, text.stderr
    assert "approval" in text.stdout and "temporal-signal" in text.stdout and "looks [good]" in text.stdout
    assert "started" not in text.stdout
    empty = await cli("audit", "list", "--deployment", "nope")
    assert empty.code == 0 and "no audit entries" in empty.stdout
