"""What a host delivery may destroy: only what Lockstep made. On real `LocalConnection`s (the
`local` target shares the release handling with ssh, whose fleet tests are in
tests/workflows/test_ssh_ownership.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lockstep.delivery.host import deliver_host_component
from lockstep.delivery.host_rollback import rollback_host_component
from lockstep.delivery.journal import MemoryJournal
from lockstep.domain.errors import DeploymentStepFailed
from lockstep.domain.status import StepStatus
from lockstep.targets.local import LocalConnection
from lockstep.targets.release_layout import LayoutRefused
from lockstep.targets.releases import prune_releases, rollback_release, stage_release
from tests.delivery.test_host_delivery import DEST, A, B, component, current, delivery, lines, reach


@pytest.fixture
def hosts(tmp_path: Path) -> list[LocalConnection]:
    conns = []
    for name in ("h1", "h2"):
        (tmp_path / name).mkdir()
        conns.append(LocalConnection(root=tmp_path / name, name=name))
    return conns


def _web(conn: LocalConnection) -> Path:
    return conn.root / DEST.lstrip("/")


def test_a_current_folder_is_refused_on_every_host_before_any_changes(hosts: list[LocalConnection]) -> None:
    h1, h2 = hosts
    (_web(h2) / "current/uploads").mkdir(parents=True)
    (_web(h2) / "current/uploads/cat.jpg").write_text("photo")
    journal = MemoryJournal()
    with pytest.raises(LayoutRefused, match=r"h2: /srv/web/current is a folder, not a symlink"):
        deliver_host_component(delivery(component(A), A, journal), hosts, batch=1)
    assert (_web(h2) / "current/uploads/cat.jpg").read_text() == "photo"
    assert not _web(h1).exists()  # h1 comes first and was fine, but nothing was staged there
    assert journal.priors() == []  # nothing to undo
    assert journal.step_status(host="h2", action="deploy") == StepStatus.FAILED
    # Compensation has nothing to put back and deletes nothing.
    assert not rollback_host_component(delivery(component(A), A, journal), reach(hosts), lambda _: ()).changed
    assert (_web(h2) / "current/uploads/cat.jpg").read_text() == "photo"


@pytest.mark.parametrize("what", ["file", "symlink"])
def test_a_releases_that_is_not_a_folder_is_refused(hosts: list[LocalConnection], what: str) -> None:
    h1, _ = hosts
    elsewhere = h1.root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data").write_text("precious")
    _web(h1).mkdir(parents=True)
    if what == "file":
        (_web(h1) / "releases").write_text("not a folder")
    else:
        os.symlink("../../elsewhere", _web(h1) / "releases")
    with pytest.raises(LayoutRefused, match=r"h1: /srv/web/releases is a"):
        deliver_host_component(delivery(component(A), A, MemoryJournal()), hosts, batch=2)
    assert sorted(os.listdir(elsewhere)) == ["data"]


def test_pruning_spares_operator_files_and_other_tools_releases(hosts: list[LocalConnection]) -> None:
    conn = hosts[0]
    releases = _web(conn) / "releases"
    releases.mkdir(parents=True)
    (releases / "20240101").mkdir()  # another tool's release, without Lockstep's marker
    (releases / "20240101/index.html").write_text("old")
    (releases / "NOTES.txt").write_text("ops notes")
    for n, sha in enumerate((A, B, "c" * 40, "d" * 40)):
        journal = MemoryJournal()
        d = delivery(component(sha), sha, journal)
        d.limits = type(d.limits)(command_timeout=10.0, max_output=4096, keep_releases=1)
        deliver_host_component(d, [conn], batch=1)
        assert current(conn) == sha, n
    assert sorted(os.listdir(releases)) == [".lockstep-history", "20240101", "NOTES.txt", "c" * 40, "d" * 40]
    assert (releases / "NOTES.txt").read_text() == "ops notes"


def test_a_folder_named_like_the_release_that_lockstep_did_not_stage_is_refused(
    hosts: list[LocalConnection],
) -> None:
    conn = hosts[0]
    (_web(conn) / f"releases/{A}").mkdir(parents=True)
    (_web(conn) / f"releases/{A}/data.db").write_text("rows")
    with pytest.raises(LayoutRefused, match="Lockstep did not stage it"):
        stage_release(conn, dest=DEST, release=A, files={"index.html": b"x"}, content_hash="h")
    assert (_web(conn) / f"releases/{A}/data.db").read_text() == "rows"


def test_a_foreign_current_link_is_recorded_and_restored_exactly(hosts: list[LocalConnection]) -> None:
    h1, h2 = hosts
    for conn in hosts:
        (_web(conn) / "releases/20240101").mkdir(parents=True)
        os.symlink("releases/20240101", _web(conn) / "current")
    (h2.root / "fail-here").touch()
    journal = MemoryJournal()
    comp = component(A, deploy=['echo "$LOCKSTEP_COMMIT" >> "$LOCKSTEP_ROOT/deploy.log"',
                                'test ! -f "$LOCKSTEP_ROOT/fail-here"'])  # fmt: skip
    with pytest.raises(DeploymentStepFailed):
        deliver_host_component(delivery(comp, A, journal), hosts, batch=2)
    assert {p.previous for p in journal.priors()} == {"link:releases/20240101"}
    assert rollback_host_component(delivery(comp, A, journal), reach(hosts), lambda _: ()).changed
    for conn in hosts:
        assert os.readlink(_web(conn) / "current") == "releases/20240101"
    # No deploy commands ran for the foreign release (Lockstep does not know them).
    assert lines(h1, "deploy.log") == [A]


def test_rollback_never_removes_a_current_that_became_a_folder(hosts: list[LocalConnection]) -> None:
    conn = hosts[0]
    (_web(conn) / "current").mkdir(parents=True)
    (_web(conn) / "current/data").write_text("x")
    with pytest.raises(LayoutRefused, match="no longer a symlink"):
        rollback_release(conn, dest=DEST, previous=None)
    assert (_web(conn) / "current/data").read_text() == "x"


def test_prune_never_follows_a_releases_symlink(hosts: list[LocalConnection]) -> None:
    conn = hosts[0]
    other = conn.root / "other"
    other.mkdir()
    (other / A).mkdir()
    (other / A / ".lockstep-release").write_text("h\n")
    _web(conn).mkdir(parents=True)
    os.symlink("../../other", _web(conn) / "releases")
    assert prune_releases(conn, DEST, 0, protect=[]) == []
    assert (other / A / ".lockstep-release").exists()


def test_a_foreign_absolute_link_outside_the_root_is_restored_byte_for_byte(
    hosts: list[LocalConnection],
) -> None:
    conn = hosts[0]
    _web(conn).mkdir(parents=True)
    os.symlink("/opt/app-v1", _web(conn) / "current")  # made by hand, leads outside the target root
    journal = MemoryJournal()
    comp = component(A, deploy=["false"])
    with pytest.raises(DeploymentStepFailed):
        deliver_host_component(delivery(comp, A, journal), [conn], batch=1)
    assert [p.previous for p in journal.priors()] == ["link:/opt/app-v1"]
    assert rollback_host_component(delivery(comp, A, journal), reach([conn]), lambda _: ()).changed
    assert os.readlink(_web(conn) / "current") == "/opt/app-v1"
    assert rollback_release(conn, dest=DEST, previous="link:/opt/app-v1") is False  # already so


def test_a_release_folder_lockstep_did_not_stage_is_refused_before_any_host_changes(
    hosts: list[LocalConnection],
) -> None:
    h1, h2 = hosts
    (_web(h2) / f"releases/{A}").mkdir(parents=True)
    with pytest.raises(
        LayoutRefused, match=f"h2: /srv/web/releases/{A} exists but Lockstep did not stage it"
    ):
        deliver_host_component(delivery(component(A), A, MemoryJournal()), hosts, batch=1)
    assert not _web(h1).exists()


def test_a_live_release_its_deploy_commands_edited_is_reused_by_a_retry(hosts: list[LocalConnection]) -> None:
    conn = hosts[0]
    files = {"config.env": b"WORKERS=2\n"}
    assert stage_release(conn, dest=DEST, release=A, files=files, content_hash="h") is True
    switch_current_to = _web(conn) / "current"
    os.symlink(f"releases/{A}", switch_current_to)
    (_web(conn) / f"releases/{A}/config.env").write_text("WORKERS=8\n")  # a deploy command's sed -i
    assert stage_release(conn, dest=DEST, release=A, files=files, content_hash="h") is False


def test_prune_sweeps_lockstep_leftovers_only(hosts: list[LocalConnection]) -> None:
    conn = hosts[0]
    releases = _web(conn) / "releases"
    for sha in (A, B):
        journal = MemoryJournal()
        deliver_host_component(delivery(component(sha), sha, journal), [conn], batch=1)
    (releases / f".staging-{'c' * 40}").mkdir()  # an upload cut short (a full disk, say)
    (releases / f".trash-{'d' * 40}-1234abcd").mkdir()  # a deletion cut short
    (releases / ".operator-dotfile").write_text("keep")
    assert prune_releases(conn, DEST, 5, protect=[B]) == []
    assert sorted(os.listdir(releases)) == [".lockstep-history", ".operator-dotfile", A, B]
