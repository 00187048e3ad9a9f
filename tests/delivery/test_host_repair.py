"""Delivering the live commit again onto a release edited by hand (a remediation): the files go
into a fresh release beside it, the same one on a retry, and a rollback switches back to the
edited one, which was never written over. Files the deploy commands wrote are theirs; a file
added by hand afterwards is a change. Real `LocalConnection`s under tmp_path, in-memory journal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from lockstep.delivery.host import deliver_host_component
from lockstep.delivery.host_live import host_changes, read_host
from lockstep.delivery.host_rollback import rollback_host_component
from lockstep.delivery.journal import MemoryJournal
from lockstep.domain.changes import ChangeAction
from lockstep.targets.local import LocalConnection
from tests.delivery.test_host_delivery import DEST, A, component, current, delivery, reach

WRITES_STATUS = "date > status.txt"


@pytest.fixture
def hosts(tmp_path: Path) -> list[LocalConnection]:
    conns = []
    for name in ("h1", "h2"):
        (tmp_path / name).mkdir()
        conns.append(LocalConnection(root=tmp_path / name, name=name))
    return conns


def live_file(conn: LocalConnection, name: str) -> Path:
    return conn.root / DEST.lstrip("/") / "current" / name


def actions(conn: LocalConnection) -> dict[str, ChangeAction]:
    comp = component(A, deploy=[WRITES_STATUS])
    return {c.subject: c.action for c in host_changes(comp, read_host(conn, comp)).changes}


def test_a_hand_edited_release_is_replaced_by_a_fresh_one_and_kept_for_the_way_back(
    hosts: list[LocalConnection],
) -> None:
    h1, h2 = hosts
    comp = component(A, deploy=[WRITES_STATUS])
    deliver_host_component(delivery(comp, A, MemoryJournal()), hosts, batch=2)
    # What the deploy commands wrote is theirs: not a change.
    assert actions(h1) == {f"{DEST}/index.html": ChangeAction.UNCHANGED}
    live_file(h1, "index.html").write_text("edited by hand\n")
    live_file(h2, "notes.txt").write_text("added by hand\n")
    assert actions(h1)[f"{DEST}/index.html"] == ChangeAction.CONFIGURED
    assert actions(h2)[f"{DEST}/notes.txt"] == ChangeAction.DELETED  # the next release will not hold it

    journal = MemoryJournal()
    again = delivery(comp, A, journal)
    again.env = {**again.env, "LOCKSTEP_DEPLOYMENT": "shop-staging-remediation-1"}
    deliver_host_component(again, hosts, batch=2)
    fresh = current(h1)
    assert fresh is not None and fresh.startswith(f"{A}.") and current(h2) == fresh
    assert live_file(h1, "index.html").read_text() == "<h1>aaaaaaa</h1>\n"
    assert not live_file(h2, "notes.txt").exists()
    kept = h1.root / DEST.lstrip("/") / "releases" / A
    assert (kept / "index.html").read_text() == "edited by hand\n"
    assert actions(h1) == actions(h2) == {f"{DEST}/index.html": ChangeAction.UNCHANGED}

    retry = delivery(comp, A, journal, attempt=2)  # a retried activity finds its own release
    retry.env = again.env
    deliver_host_component(retry, hosts, batch=2)
    assert (current(h1), current(h2)) == (fresh, fresh)

    def deploy_commands_for(_commit: str) -> Sequence[str]:
        return (WRITES_STATUS,)

    done = rollback_host_component(again, reach(hosts), deploy_commands_for)
    assert done.changed and (current(h1), current(h2)) == (A, A)
    assert live_file(h1, "index.html").read_text() == "edited by hand\n"  # exactly as it was
    assert live_file(h2, "notes.txt").read_text() == "added by hand\n"
    # Its deploy commands ran again there: what they wrote is theirs, the hand-added file is not.
    assert actions(h2)[f"{DEST}/notes.txt"] == ChangeAction.DELETED
    assert f"{DEST}/status.txt" not in actions(h2)


def test_a_retry_keeps_the_release_a_service_writes_into(hosts: list[LocalConnection]) -> None:
    comp = component(A, deploy=[WRITES_STATUS])
    journal = MemoryJournal()
    deliver_host_component(delivery(comp, A, journal), hosts, batch=2)
    live_file(hosts[0], "app.pid").write_text("4242\n")  # the running service, after its deploy
    deliver_host_component(delivery(comp, A, journal, attempt=2), hosts, batch=2)
    assert (current(hosts[0]), current(hosts[1])) == (A, A)  # no second release staged
    releases = sorted(p.name for p in (hosts[0].root / DEST.lstrip("/") / "releases").iterdir())
    assert releases == [".lockstep-history", A]
