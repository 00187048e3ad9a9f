"""Release logic over a real `LocalConnection` under tmp_path."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from lockstep.domain.errors import DeploymentStepFailed
from lockstep.targets.local import LocalConnection
from lockstep.targets.releases import (
    current_link,
    current_release,
    prune_releases,
    release_dir,
    release_files,
    remember_release,
    rollback_release,
    stage_release,
    switch_current,
)

DEST = "/srv/web"
FILES = {"index.html": b"<h1>hi</h1>", "bin/start.sh": b"#!/bin/sh\necho start\n", "conf/a/b.conf": b"x=1"}


class RecordingConnection(LocalConnection):
    """Records written paths; raises after `fail_after` writes to simulate a dropped upload."""

    def __init__(self, root: Path, fail_after: int | None = None) -> None:
        super().__init__(root)
        self.writes: list[str] = []
        self.fail_after = fail_after

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        if self.fail_after is not None and len(self.writes) >= self.fail_after:
            raise OSError("connection dropped")
        self.writes.append(path)
        super().write_file(path, data, mode)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.fixture
def conn(root: Path) -> RecordingConnection:
    return RecordingConnection(root)


def _release(conn: LocalConnection, name: str, files: dict[str, bytes] | None = None) -> None:
    stage_release(
        conn, dest=DEST, release=name, files=files or {"f": name.encode()}, content_hash=f"h-{name}"
    )
    remember_release(conn, DEST, name)


def test_paths() -> None:
    assert release_dir("/srv/web/", "abc") == "/srv/web/releases/abc"
    assert current_link("/srv/web") == "/srv/web/current"


def test_staging_writes_files_modes_the_list_and_the_marker(conn: RecordingConnection, root: Path) -> None:
    assert stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    final = root / "srv/web/releases/c1"
    assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*") if p.is_file()) == [
        ".lockstep-files",
        ".lockstep-release",
        "bin/start.sh",
        "conf/a/b.conf",
        "index.html",
    ]
    assert (final / "index.html").read_bytes() == b"<h1>hi</h1>"
    # The marker is the hash alone, as older workers expect; the list is beside it.
    assert (final / ".lockstep-release").read_text() == "h1\n"
    assert (final / ".lockstep-files").read_text() == "files 3\n" + "".join(
        f'{hashlib.sha256(FILES[rel]).hexdigest()} "{rel}"\n' for rel in sorted(FILES)
    )
    assert release_files(conn, DEST, "c1") == {
        rel: hashlib.sha256(data).hexdigest() for rel, data in FILES.items()
    }
    assert (final / "bin/start.sh").stat().st_mode & 0o777 == 0o755
    assert (final / "index.html").stat().st_mode & 0o777 == 0o644
    # The list before the marker, the marker last: a release that looks complete has its list.
    assert [w.rsplit("/", 1)[1] for w in conn.writes[-2:]] == [".lockstep-files", ".lockstep-release"]
    assert conn.list_dir(f"{DEST}/releases") == ["c1"]


def test_an_older_worker_takes_the_release_as_complete(conn: RecordingConnection, root: Path) -> None:
    """A worker of an earlier version (mixed in during an upgrade) compares the marker's sha256
    with that of `<hash>\\n`: it must match, so it neither refuses nor restages the release."""
    stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    assert conn.file_sha256(f"{DEST}/releases/c1/.lockstep-release") == hashlib.sha256(b"h1\n").hexdigest()


def test_staging_twice_is_a_no_op(conn: RecordingConnection) -> None:
    assert stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    conn.writes.clear()
    assert not stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    assert conn.writes == []


def test_a_release_staged_without_a_list_is_complete_and_has_none(
    conn: RecordingConnection, root: Path
) -> None:
    """Releases staged before releases listed their files stay complete: not staged again, read
    as having no list."""
    stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    (root / "srv/web/releases/c1/.lockstep-files").unlink()
    conn.writes.clear()
    assert not stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    assert conn.writes == []
    assert release_files(conn, DEST, "c1") is None


def test_a_marker_holding_the_list_is_complete_and_read(conn: RecordingConnection, root: Path) -> None:
    """A development version wrote the list into the marker, after the hash: still complete."""
    stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    final = root / "srv/web/releases/c1"
    listed = (final / ".lockstep-files").read_text()
    (final / ".lockstep-files").unlink()
    (final / ".lockstep-release").write_text("h1\n" + listed)
    conn.writes.clear()
    assert not stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    assert conn.writes == []
    assert release_files(conn, DEST, "c1") == {
        rel: hashlib.sha256(data).hexdigest() for rel, data in FILES.items()
    }


@pytest.mark.parametrize(
    "listed",
    ["files 2\n" + "0" * 64 + ' "a"\n', "files x\n", "files 1\nabc a\n", "files 1\n\xff\n", "h1\n"],
)
def test_a_list_that_cannot_be_read_gives_none(conn: RecordingConnection, root: Path, listed: str) -> None:
    stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    (root / "srv/web/releases/c1/.lockstep-files").write_text(listed)
    assert release_files(conn, DEST, "c1") is None


def test_a_list_past_the_bound_is_not_written(
    conn: RecordingConnection, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lockstep.targets.releases.MAX_LIST_BYTES", 100)
    assert stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    assert (root / "srv/web/releases/c1/.lockstep-release").read_text() == "h1\n"
    assert not (root / "srv/web/releases/c1/.lockstep-files").exists()
    assert release_files(conn, DEST, "c1") is None
    assert not stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")


def test_new_content_for_the_same_release_replaces_it(conn: RecordingConnection, root: Path) -> None:
    stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    assert stage_release(conn, dest=DEST, release="c1", files={"index.html": b"v2"}, content_hash="h2")
    final = root / "srv/web/releases/c1"
    assert sorted(p.name for p in final.iterdir()) == [".lockstep-files", ".lockstep-release", "index.html"]
    assert (final / "index.html").read_bytes() == b"v2"


def test_interrupted_staging_is_resumed(root: Path) -> None:
    dropped = RecordingConnection(root, fail_after=3)  # staging marker + two files, then the link drops
    with pytest.raises(OSError, match="dropped"):
        stage_release(dropped, dest=DEST, release="c1", files=FILES, content_hash="h1")
    staging = root / "srv/web/releases/.staging-c1"
    assert staging.is_dir()
    assert not (root / "srv/web/releases/c1").exists()
    (staging / "bin/start.sh").write_bytes(b"#!/bin/sh\necho sta")  # a torn write from the drop

    retry = RecordingConnection(root)
    assert stage_release(retry, dest=DEST, release="c1", files=FILES, content_hash="h1")
    base = f"{DEST}/releases/.staging-c1"
    # conf/a/b.conf was sent before the drop and is not sent again; the torn file is rewritten.
    assert retry.writes == [
        f"{base}/bin/start.sh",
        f"{base}/index.html",
        f"{base}/.lockstep-files",
        f"{base}/.lockstep-release",
    ]
    final = root / "srv/web/releases/c1"
    assert {k: (final / k).read_bytes() for k in FILES} == FILES
    assert not staging.exists()


def test_staging_left_by_other_content_is_wiped(conn: RecordingConnection, root: Path) -> None:
    stale = root / "srv/web/releases/.staging-c1"
    stale.mkdir(parents=True)
    (stale / "leftover.txt").write_bytes(b"old")
    (stale / "index.html").write_bytes(FILES["index.html"])
    stage_release(conn, dest=DEST, release="c1", files=FILES, content_hash="h1")
    assert not (root / "srv/web/releases/c1/leftover.txt").exists()


@pytest.mark.parametrize(
    "bad", ["/etc/passwd", "../x", "a/../../x", "", ".lockstep-release", "./.lockstep-files"]
)
def test_file_paths_outside_the_release_are_rejected(conn: RecordingConnection, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid release file path"):
        stage_release(conn, dest=DEST, release="c1", files={bad: b"x"}, content_hash="h1")


@pytest.mark.parametrize("bad", ["", ".staging-x", "a/b", ".."])
def test_release_names_are_checked(conn: RecordingConnection, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid release name"):
        stage_release(conn, dest=DEST, release=bad, files={}, content_hash="h1")


def test_switch_returns_previous_and_is_idempotent(conn: RecordingConnection, root: Path) -> None:
    _release(conn, "c1")
    _release(conn, "c2")
    assert switch_current(conn, DEST, "c1") is None
    assert switch_current(conn, DEST, "c2") == "c1"
    assert switch_current(conn, DEST, "c2") == "c2"
    assert (root / "srv/web/current/f").read_bytes() == b"c2"
    with pytest.raises(DeploymentStepFailed, match="not staged"):
        switch_current(conn, DEST, "c9")
    assert current_release(conn, DEST) == "c2"


def test_current_release_reads_relative_and_absolute_links(conn: RecordingConnection) -> None:
    assert current_release(conn, DEST) is None
    conn.ensure_dir(f"{DEST}/releases/abc")
    conn.replace_symlink(current_link(DEST), "releases/abc")
    assert conn.readlink(current_link(DEST)) == "releases/abc"
    # Without Lockstep's marker the folder is someone else's: recorded as the link it is.
    assert current_release(conn, DEST) == "link:releases/abc"
    conn.write_file(f"{DEST}/releases/abc/.lockstep-release", b"h\n")
    assert current_release(conn, DEST) == "abc"
    conn.replace_symlink(current_link(DEST), "/srv/web/releases/abc/")
    assert current_release(conn, DEST) == "abc"


def test_switch_is_atomic_the_link_never_goes_missing(conn: RecordingConnection, root: Path) -> None:
    _release(conn, "c1")
    _release(conn, "c2")
    switch_current(conn, DEST, "c1")
    link = root / "srv/web/current"
    stop = threading.Event()
    problems: list[str] = []
    reads = 0

    def watch() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                content = (link / "f").read_bytes()
            except OSError as e:
                problems.append(repr(e))
                continue
            reads += 1
            if content not in (b"c1", b"c2"):
                problems.append(f"unexpected content {content!r}")

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(200):
            switch_current(conn, DEST, "c2" if i % 2 == 0 else "c1")
    finally:
        stop.set()
        watcher.join()
    assert problems == []
    assert reads > 0


def test_rollback_to_previous(conn: RecordingConnection) -> None:
    _release(conn, "c1")
    _release(conn, "c2")
    switch_current(conn, DEST, "c1")
    previous = switch_current(conn, DEST, "c2")
    assert rollback_release(conn, dest=DEST, previous=previous)
    assert current_release(conn, DEST) == "c1"
    assert not rollback_release(conn, dest=DEST, previous=previous)


def test_rollback_of_a_new_component_removes_current(conn: RecordingConnection) -> None:
    _release(conn, "c1")
    assert switch_current(conn, DEST, "c1") is None
    assert rollback_release(conn, dest=DEST, previous=None)
    assert not conn.exists(current_link(DEST))
    assert conn.exists(release_dir(DEST, "c1"))
    assert not rollback_release(conn, dest=DEST, previous=None)


def test_remember_appends_and_moves_a_redeployed_release_last(conn: RecordingConnection, root: Path) -> None:
    for name in ("a", "b", "c", "a"):
        remember_release(conn, DEST, name)
    remember_release(conn, DEST, "a")
    assert (root / "srv/web/releases/.lockstep-history").read_text() == "b\nc\na\n"


def test_prune_keeps_the_newest_and_the_protected(conn: RecordingConnection, root: Path) -> None:
    for name in ("r1", "r2", "r3", "r4", "r5", "r6"):
        _release(conn, name)
    switch_current(conn, DEST, "r2")  # live releases are never pruned, protected or not
    (root / "srv/web/releases/stray").mkdir()  # not Lockstep's: never pruned
    removed = prune_releases(conn, DEST, 2, protect=["r3"])
    assert removed == ["r1", "r4"]
    assert conn.list_dir(f"{DEST}/releases") == [".lockstep-history", "r2", "r3", "r5", "r6", "stray"]
    assert (root / "srv/web/releases/.lockstep-history").read_text() == "r2\nr3\nr5\nr6\n"
    assert prune_releases(conn, DEST, 2, protect=["r3"]) == []


def test_prune_with_fewer_releases_than_keep_removes_nothing(conn: RecordingConnection) -> None:
    _release(conn, "r1")
    assert prune_releases(conn, DEST, 5, protect=[]) == []
    assert prune_releases(conn, "/srv/nothing", 5, protect=[]) == []
