"""Which deploy commands a host rollback runs, and where: those of the component's previous live
revision (the store's, handed in as `previous_commit`), not those of the commit whose files are in
the release switched back to; and an unchanged host whose deploy commands ran gets them too.

The scenario the store makes possible: C0 (`A`) staged the files; C1 (`B`) changed only the deploy
commands, so the hosts stayed on release A but ran C1's commands and the store says C1 is live;
D2 (`C`) then fails. Putting the hosts back on release A must run C1's commands there, not C0's.

Real `LocalConnection` hosts and the in-memory journal, as in test_host_changes.py; each deploy
command set appends its name to `which.log` and `$LOCKSTEP_COMMIT` to `deploy.log`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from lockstep.delivery.host import deliver_host_component
from lockstep.delivery.host_rollback import rollback_host_component
from lockstep.delivery.journal import MemoryJournal
from lockstep.domain.changes import ChangeAction
from lockstep.domain.errors import DeploymentStepFailed
from lockstep.domain.journal import PriorRelease
from lockstep.domain.models import RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.targets.local import LocalConnection
from lockstep.targets.releases import current_release
from tests.delivery.test_host_changes import (
    DEST,
    FAIL_ON_MARKED_HOST,
    FILES,
    LOG_COMMIT,
    A,
    B,
    C,
    component,
    delivery,
    log,
)
from tests.delivery.test_host_delivery import reach


def commands(name: str) -> tuple[str, ...]:
    return (LOG_COMMIT, f'echo {name} >> "$LOCKSTEP_ROOT/which.log"')


C0 = component(deploy=commands("zero"), content="0")
C1 = component(deploy=commands("one"), content="1")  # the same files: delivered as unchanged
D2 = component({**FILES, "app.conf": "port=2\n"}, deploy=(*commands("two"), FAIL_ON_MARKED_HOST), content="2")
BY_COMMIT = {A: C0, B: C1, C: D2}


@pytest.fixture
def hosts(tmp_path: Path) -> list[LocalConnection]:
    conns = []
    for name in ("h1", "h2"):
        (tmp_path / name).mkdir()
        conns.append(LocalConnection(root=tmp_path / name, name=name))
    return conns


def deliver(hosts: Sequence[LocalConnection], comp: RenderedComponent, release: str) -> MemoryJournal:
    journal = MemoryJournal()
    deliver_host_component(delivery(comp, release, journal), hosts, batch=2)
    return journal


def rendering(asked: list[str]) -> Callable[[str], Sequence[str]]:
    def deploy_commands_for(commit: str) -> Sequence[str]:
        asked.append(commit)
        return BY_COMMIT[commit].deploy_commands

    return deploy_commands_for


def failed_d2(hosts: list[LocalConnection]) -> MemoryJournal:
    """C0, then C1 (unchanged hosts), then D2 switched both hosts and failed on h1."""
    deliver(hosts, C0, A)
    deliver(hosts, C1, B)
    assert [current_release(h, DEST) for h in hosts] == [A, A]
    (hosts[0].root / "fail-here").touch()
    journal = MemoryJournal()
    with pytest.raises(DeploymentStepFailed):
        deliver_host_component(delivery(D2, C, journal), hosts, batch=2)
    assert [current_release(h, DEST) for h in hosts] == [C, C]
    return journal


def test_rollback_runs_the_previous_revision_s_commands_in_the_release_it_goes_back_to(
    hosts: list[LocalConnection],
) -> None:
    journal = failed_d2(hosts)
    asked: list[str] = []

    back = rollback_host_component(
        delivery(D2, C, journal), reach(hosts), rendering(asked), previous_commit=lambda: B
    )

    assert back.changed and sorted(back.hosts) == ["h1", "h2"]
    assert asked == [B]  # rendered once, for the revision the store says was live
    for conn in hosts:
        assert current_release(conn, DEST) == A  # the files of C0's release...
        assert log(conn, "which.log") == ["zero", "one", "two", "one"]  # ...with C1's commands
        assert log(conn, "deploy.log") == [A, B, C, B]  # and C1 as LOCKSTEP_COMMIT
        assert f"deploy commands of {B[:12]} run again" in (
            journal.steps_by_key[(conn.name, "rollback")][1] or ""
        )
    [change] = back.changes[0].changes
    assert (change.subject, change.action) == (f"{DEST}/current", ChangeAction.CONFIGURED)
    assert change.summary == f"-> {A}; deploy commands of {B[:12]} run again"


def test_without_a_revision_in_the_store_the_release_s_own_commands_run(hosts: list[LocalConnection]) -> None:
    journal = failed_d2(hosts)
    asked: list[str] = []

    rollback_host_component(delivery(D2, C, journal), reach(hosts), rendering(asked))

    assert asked == [A]
    assert all(log(conn, "which.log") == ["zero", "one", "two", "zero"] for conn in hosts)
    assert all(log(conn, "deploy.log") == [A, B, C, A] for conn in hosts)


def test_an_unchanged_host_s_deploy_commands_are_undone(hosts: list[LocalConnection]) -> None:
    """C1 ran its commands on hosts it did not switch: rolling C1 back runs C0's (the revision
    live before it) there again, and counts the hosts as changed."""
    deliver(hosts, C0, A)
    journal = deliver(hosts, C1, B)
    assert sorted(journal.priors(), key=lambda p: p.host) == [PriorRelease(h, DEST, A) for h in ("h1", "h2")]
    asked: list[str] = []

    back = rollback_host_component(
        delivery(C1, B, journal), reach(hosts), rendering(asked), previous_commit=lambda: A
    )

    assert back.changed and sorted(back.hosts) == ["h1", "h2"]
    by_host = {c.location: c for c in back.changes}
    for conn in hosts:
        change_set = by_host[conn.name]
        assert current_release(conn, DEST) == A  # never left it
        assert log(conn, "which.log") == ["zero", "one", "zero"]
        assert log(conn, "deploy.log") == [A, B, A]
        [change] = change_set.changes
        assert (change.subject, change.action) == (f"{DEST}/current", ChangeAction.CONFIGURED)
        assert change.summary == f"{A} kept; deploy commands of {A[:12]} run again"
        assert journal.step_status(host=conn.name, action="rollback") == StepStatus.SUCCEEDED

    again = rollback_host_component(delivery(C1, B, journal), reach(hosts), rendering(asked))
    assert sorted(again.hosts) == ["h1", "h2"]  # a retried rollback: the hosts converged, nothing runs again
    assert all(log(conn, "which.log") == ["zero", "one", "zero"] for conn in hosts)
    assert asked == [A]


class NoStaging(LocalConnection):
    """A host whose uploads fail once `full` (a full disk, say): nothing can be staged on it."""

    full = False

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        if self.full and "/.staging-" in path:
            raise OSError(28, "No space left on device")
        super().write_file(path, data, mode)


def test_a_host_whose_staging_failed_runs_no_deploy_commands_on_rollback(tmp_path: Path) -> None:
    """Its prior is the release it is still on, as an unchanged host's is, but its files differ
    from the component's: none of the deployment's commands ran there, so none run back."""
    (tmp_path / "h1").mkdir()
    host = NoStaging(root=tmp_path / "h1", name="h1")
    deliver([host], C0, A)
    host.full = True
    journal = MemoryJournal()
    with pytest.raises(OSError, match="No space"):
        deliver_host_component(delivery(D2, C, journal), [host], batch=1)
    assert journal.priors() == [PriorRelease("h1", DEST, A)]
    asked: list[str] = []

    back = rollback_host_component(
        delivery(D2, C, journal), reach([host]), rendering(asked), previous_commit=lambda: A
    )

    assert not back.changed
    assert asked == []  # nothing to run: nothing rendered
    assert log(host, "which.log") == ["zero"]
    [change] = back.changes[0].changes
    assert (change.action, change.summary) == (ChangeAction.UNCHANGED, f"{A} kept")


def test_a_retry_after_a_failed_staging_stages_and_switches(tmp_path: Path) -> None:
    """Its prior equals the live release, as an unchanged host's does; its files still differ,
    so the retry delivers it as the changed host it is."""
    (tmp_path / "h1").mkdir()
    host = NoStaging(root=tmp_path / "h1", name="h1")
    deliver([host], C0, A)
    host.full = True
    journal = MemoryJournal()
    with pytest.raises(OSError, match="No space"):
        deliver_host_component(delivery(D2, C, journal), [host], batch=1)
    host.full = False

    [done] = deliver_host_component(delivery(D2, C, journal, attempt=2), [host], batch=1)

    assert current_release(host, DEST) == C
    assert log(host, "which.log") == ["zero", "two"]
    assert {c.subject: c.action for c in done.changes}[f"{DEST}/app.conf"] == ChangeAction.CONFIGURED
    assert journal.step_status(host="h1", action="deploy") == StepStatus.SUCCEEDED
