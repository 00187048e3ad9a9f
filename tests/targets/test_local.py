"""`LocalConnection` against real files and processes under tmp_path."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from lockstep.settings import LocalTargetSettings
from lockstep.targets.host import HostConnection
from lockstep.targets.local import LocalConnection, connect_local


@pytest.fixture
def conn(tmp_path: Path) -> LocalConnection:
    (tmp_path / "root").mkdir()
    return LocalConnection(tmp_path / "root")


def _run(conn: LocalConnection, command: str, **kw: object) -> tuple[int, str, bool]:
    params: dict[str, object] = {"cwd": None, "env": {}, "timeout": 10.0, "max_output": 4096} | kw
    r = conn.run(command, **params)  # type: ignore[arg-type]
    return r.exit_code, r.output, r.timed_out


def test_is_a_host_connection_named_local(conn: LocalConnection) -> None:
    host: HostConnection = conn
    assert host.name == "local"


def test_connect_local_gives_one_host_and_creates_the_root(tmp_path: Path) -> None:
    [only] = connect_local(LocalTargetSettings(type="local", root=str(tmp_path / "a" / "b")))
    assert only.root == (tmp_path / "a" / "b").resolve()
    assert only.root.is_dir()


def test_absolute_paths_map_under_the_root(conn: LocalConnection) -> None:
    assert conn.local_path("/srv/web") == conn.root / "srv" / "web"
    assert conn.local_path("/srv//web/./x") == conn.root / "srv" / "web" / "x"
    assert conn.local_path("/") == conn.root


@pytest.mark.parametrize("bad", ["/srv/../../etc/passwd", "/..", "/srv/web/.."])
def test_dotdot_escapes_are_rejected_naming_the_path(conn: LocalConnection, bad: str) -> None:
    with pytest.raises(ValueError, match=r"\.\."):
        conn.local_path(bad)
    with pytest.raises(ValueError, match=bad.replace(".", r"\.")):
        conn.write_file(bad, b"x")


def test_relative_paths_are_rejected(conn: LocalConnection) -> None:
    with pytest.raises(ValueError, match="must be absolute"):
        conn.local_path("srv/web")


def test_a_symlinked_directory_cannot_lead_outside(conn: LocalConnection, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", conn.root / "srv")
    with pytest.raises(ValueError, match="via a symlink"):
        conn.write_file("/srv/x", b"x")
    assert not (tmp_path / "outside" / "x").exists()


def test_files_dirs_and_listing(conn: LocalConnection) -> None:
    conn.ensure_dir("/srv/web/a")
    conn.ensure_dir("/srv/web/a")
    conn.write_file("/srv/web/a/run.sh", b"#!/bin/sh\n", mode=0o755)
    conn.write_file("/srv/web/b.txt", b"b")
    assert conn.list_dir("/srv/web") == ["a", "b.txt"]
    assert conn.list_dir("/nothing/here") == []
    assert conn.read_file("/srv/web/b.txt") == b"b"
    assert conn.read_file("/srv/web/missing") is None
    assert (conn.local_path("/srv/web/a/run.sh").stat().st_mode & 0o777) == 0o755
    assert (conn.local_path("/srv/web/b.txt").stat().st_mode & 0o777) == 0o644
    assert conn.file_sha256("/srv/web/b.txt") == (
        "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
    )
    assert conn.file_sha256("/srv/web/a") is None
    assert conn.file_sha256("/srv/web/missing") is None


def test_remove_handles_files_links_trees_and_absence(conn: LocalConnection) -> None:
    conn.ensure_dir("/d/tree/deep")
    conn.write_file("/d/tree/deep/f", b"f")
    conn.write_file("/d/file", b"f")
    conn.replace_symlink("/d/link", "tree")
    conn.remove("/d/link")
    assert conn.exists("/d/tree/deep/f")  # the link went, not what it pointed at
    conn.remove("/d/tree")
    conn.remove("/d/file")
    conn.remove("/d/never-there")
    assert conn.list_dir("/d") == []
    with pytest.raises(ValueError, match="root"):
        conn.remove("/")


def test_rename_replaces_a_file(conn: LocalConnection) -> None:
    conn.write_file("/a", b"new")
    conn.write_file("/b", b"old")
    conn.rename("/a", "/b")
    assert conn.read_file("/b") == b"new"
    assert not conn.exists("/a")


def test_symlinks_are_stored_relative_and_survive_moving_the_root(
    conn: LocalConnection, tmp_path: Path
) -> None:
    conn.ensure_dir("/srv/web/releases/r1")
    conn.write_file("/srv/web/releases/r1/index.html", b"r1")
    conn.replace_symlink("/srv/web/current", "/srv/web/releases/r1")  # absolute host target
    assert os.readlink(conn.local_path("/srv/web/current")) == "releases/r1"
    assert conn.readlink("/srv/web/current") == "releases/r1"
    assert conn.readlink("/srv/web/releases/r1/index.html") is None
    assert conn.readlink("/srv/web/absent") is None
    moved = shutil.move(conn.root, tmp_path / "moved")
    assert (Path(moved) / "srv/web/current/index.html").read_bytes() == b"r1"


def test_dangling_links_exist_and_relative_targets_cannot_escape(conn: LocalConnection) -> None:
    conn.replace_symlink("/current", "releases/gone")
    assert conn.exists("/current")
    with pytest.raises(ValueError, match="leaves the local target root"):
        conn.replace_symlink("/srv/current", "../../etc")


def test_run_captures_interleaved_output_and_exit_code(conn: LocalConnection) -> None:
    code, out, timed_out = _run(conn, "echo one; echo two >&2; echo three; exit 3")
    assert (code, out, timed_out) == (3, "one\ntwo\nthree\n", False)


def test_run_env_is_minimal_plus_given(conn: LocalConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKSTEP_TEST_SECRET", "leak")
    _, out, _ = _run(
        conn,
        'echo "$GREETING|${LOCKSTEP_TEST_SECRET:-unset}|$LOCKSTEP_ROOT"; command -v sh',
        env={"GREETING": "hi"},
    )
    first, second = out.splitlines()
    assert first == f"hi|unset|{conn.root}"
    assert second.endswith("/sh")


def test_run_cwd_is_mapped_under_the_root(conn: LocalConnection) -> None:
    conn.ensure_dir("/srv/web/releases/r1")
    conn.replace_symlink("/srv/web/current", "releases/r1")
    _, out, _ = _run(conn, "pwd -P", cwd="/srv/web/current")
    assert out.strip() == str(conn.local_path("/srv/web/releases/r1"))
    _, out, _ = _run(conn, "pwd -P")
    assert out.strip() == str(conn.root)


def test_run_in_a_missing_cwd_is_a_failed_result(conn: LocalConnection) -> None:
    code, out, _ = _run(conn, "true", cwd="/not/there")
    assert code == 127
    assert "/not/there" in out


def test_run_truncates_to_the_tail(conn: LocalConnection) -> None:
    _, out, _ = _run(conn, "seq 1 10000", max_output=50)
    assert out.startswith("[... ")
    assert " bytes truncated]\n" in out
    assert out.endswith("9999\n10000\n")
    assert len(out.split("\n", 1)[1].encode()) == 50


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a killed child nobody has reaped yet is a zombie: gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


def test_timeout_kills_the_whole_process_group(conn: LocalConnection, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    r = conn.run(
        f"echo started; sleep 30 & echo $! > {pidfile}; sleep 30",
        cwd=None,
        env={},
        timeout=0.5,
        max_output=1024,
    )
    elapsed = time.monotonic() - started
    assert r.timed_out
    assert r.exit_code == -1
    assert r.output == "started\n"
    assert elapsed < 10  # far below the 30 s the commands would take if not killed
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)


def test_a_background_child_holding_stdout_does_not_hang_run(conn: LocalConnection, tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    r = conn.run(f"sleep 30 & echo $! > {pidfile}; echo done", cwd=None, env={}, timeout=10, max_output=1024)
    try:
        assert (r.exit_code, r.output, r.timed_out) == (0, "done\n", False)
        assert r.duration_seconds < 10
    finally:
        os.kill(int(pidfile.read_text()), 9)


def test_files_sha256_hashes_the_named_regular_files(conn: LocalConnection) -> None:
    conn.ensure_dir("/r/a")
    conn.write_file("/r/a/b.txt", b"b")
    conn.write_file("/r/other", b"o")
    conn.replace_symlink("/r/link", "other")
    assert conn.files_sha256("/r", ["a/b.txt", "link", "a", "missing"]) == {
        "a/b.txt": hashlib.sha256(b"b").hexdigest()
    }
    assert conn.files_sha256("/nowhere", ["a/b.txt"]) == {}
