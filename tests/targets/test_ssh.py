"""`SshConnection` against real sshd hosts (tests/support/sshd.py): the `HostConnection` behaviour
of test_local.py, plus host-key and authentication refusals and a host that goes away."""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockstep.domain.errors import DeploymentStepFailed, TargetUnreachable
from lockstep.targets.host import HostConnection
from lockstep.targets.registry import TargetRegistry
from lockstep.targets.releases import current_release, stage_release, switch_current
from lockstep.targets.ssh import (
    HostKeyRejected,
    SshAuthenticationFailed,
    SshConnection,
    connect_host,
    connect_ssh,
    parse_address,
)
from tests.support.sshd import SshFleet, running_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFleet]:
    with running_fleet(tmp_path_factory.mktemp("fleet"), 3) as f:
        yield f


@pytest.fixture
def conn(fleet: SshFleet) -> Iterator[SshConnection]:
    c = connect_host(fleet.target(), fleet.hosts[0].address)
    yield c
    c.close()


@pytest.fixture
def base(fleet: SshFleet) -> str:
    """A fresh folder of host 0 for one test."""
    return f"{fleet.root}/t-{uuid.uuid4().hex[:8]}"


def _run(conn: SshConnection, command: str, **kw: object) -> tuple[int, str, bool]:
    params: dict[str, object] = {"cwd": None, "env": {}, "timeout": 10.0, "max_output": 4096} | kw
    r = conn.run(command, **params)  # type: ignore[arg-type]
    return r.exit_code, r.output, r.timed_out


def test_addresses_with_and_without_ports() -> None:
    assert parse_address("10.0.0.5", 22) == ("10.0.0.5", 22)
    assert parse_address("10.0.0.6:2222", 22) == ("10.0.0.6", 2222)
    assert parse_address("[::1]:2200", 22) == ("::1", 2200)
    assert parse_address("web-1", 2022) == ("web-1", 2022)


def test_is_a_host_connection_named_host_port(conn: SshConnection, fleet: SshFleet) -> None:
    host: HostConnection = conn
    assert host.name == f"127.0.0.1:{fleet.hosts[0].port}"


def test_files_dirs_and_listing(conn: SshConnection, fleet: SshFleet, base: str) -> None:
    conn.ensure_dir(f"{base}/a")
    conn.ensure_dir(f"{base}/a")
    conn.write_file(f"{base}/a/run.sh", b"#!/bin/sh\n", mode=0o755)
    conn.write_file(f"{base}/b.txt", b"b")
    conn.write_file(f"{base}/b.txt", b"b")  # overwrite
    assert conn.list_dir(base) == ["a", "b.txt"]  # no temporary upload names left behind
    assert conn.list_dir(f"{base}/nothing") == []
    assert conn.read_file(f"{base}/b.txt") == b"b"
    assert conn.read_file(f"{base}/missing") is None
    assert conn.read_file(f"{base}/a") is None
    assert fleet.sh(0, f"stat -c %a {base}/a/run.sh {base}/b.txt").split() == ["755", "644"]
    assert conn.file_sha256(f"{base}/b.txt") == hashlib.sha256(b"b").hexdigest()
    assert conn.file_sha256(f"{base}/a") is None
    assert conn.file_sha256(f"{base}/missing") is None
    # Each host has its own files: the others never saw this folder.
    assert fleet.sh(1, f"test -e {base} && echo yes || echo no").strip() == "no"


def test_large_files_are_hashed_on_the_host(conn: SshConnection, base: str) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    conn.ensure_dir(base)
    conn.write_file(f"{base}/big.bin", data)
    assert conn.file_sha256(f"{base}/big.bin") == hashlib.sha256(data).hexdigest()
    assert conn.read_file(f"{base}/big.bin") == data


def test_remove_handles_files_links_trees_and_absence(conn: SshConnection, base: str) -> None:
    conn.ensure_dir(f"{base}/tree/deep")
    conn.write_file(f"{base}/tree/deep/f", b"f")
    conn.write_file(f"{base}/file", b"f")
    conn.replace_symlink(f"{base}/link", "tree")
    conn.remove(f"{base}/link")
    assert conn.exists(f"{base}/tree/deep/f")  # the link went, not what it pointed at
    conn.remove(f"{base}/tree")
    conn.remove(f"{base}/file")
    conn.remove(f"{base}/never-there")
    assert conn.list_dir(base) == []
    with pytest.raises(ValueError, match="root"):
        conn.remove("/")


def test_rename_replaces_a_file(conn: SshConnection, base: str) -> None:
    conn.ensure_dir(base)
    conn.write_file(f"{base}/a", b"new")
    conn.write_file(f"{base}/b", b"old")
    conn.rename(f"{base}/a", f"{base}/b")
    assert conn.read_file(f"{base}/b") == b"new"
    assert not conn.exists(f"{base}/a")


def test_symlink_switch_is_atomic_and_stored_as_given(
    conn: SshConnection, fleet: SshFleet, base: str
) -> None:
    conn.ensure_dir(f"{base}/releases/r1")
    conn.ensure_dir(f"{base}/releases/r2")
    conn.replace_symlink(f"{base}/current", "releases/r1")
    assert conn.readlink(f"{base}/current") == "releases/r1"
    conn.replace_symlink(f"{base}/current", "releases/r2")
    assert fleet.readlink(0, f"{base}/current") == "releases/r2"
    assert conn.list_dir(base) == ["current", "releases"]
    assert conn.readlink(f"{base}/releases") is None
    assert conn.readlink(f"{base}/absent") is None
    conn.replace_symlink(f"{base}/dangling", "releases/gone")
    assert conn.exists(f"{base}/dangling")


def test_releases_stage_switch_and_skip_unchanged_files(
    conn: SshConnection, fleet: SshFleet, base: str
) -> None:
    files = {"index.html": b"<h1>hi</h1>\n", "bin/run.sh": b"#!/bin/sh\necho run\n"}
    assert stage_release(conn, dest=base, release="r1", files=files, content_hash="h1")
    assert not stage_release(conn, dest=base, release="r1", files=files, content_hash="h1")
    assert switch_current(conn, base, "r1") is None
    assert current_release(conn, base) == "r1"
    assert fleet.read(0, f"{base}/current/index.html") == "<h1>hi</h1>\n"
    assert fleet.sh(0, f"stat -c %a {base}/current/bin/run.sh").strip() == "755"


def test_run_captures_interleaved_output_and_exit_code(conn: SshConnection) -> None:
    code, out, timed_out = _run(conn, "echo one; echo two >&2; echo three; exit 3")
    assert (code, out, timed_out) == (3, "one\ntwo\nthree\n", False)


def test_run_env_quoting_and_cwd(conn: SshConnection, base: str) -> None:
    conn.ensure_dir(f"{base}/releases/r1")
    conn.replace_symlink(f"{base}/current", "releases/r1")
    tricky = 'it\'s "quoted" $HOME `x` ;'
    _, out, _ = _run(
        conn, 'printf "%s|" "$GREETING" "$TRICKY"; pwd -P', env={"GREETING": "hi", "TRICKY": tricky}
    )
    assert out.startswith(f"hi|{tricky}|")
    _, out, _ = _run(conn, "pwd -P", cwd=f"{base}/current")
    assert out.strip() == f"{base}/releases/r1"


def test_run_in_a_missing_cwd_is_a_failed_result(conn: SshConnection) -> None:
    code, out, _ = _run(conn, "true", cwd="/not/there")
    assert code == 127
    assert "/not/there" in out


def test_run_truncates_to_the_tail(conn: SshConnection) -> None:
    _, out, _ = _run(conn, "seq 1 10000", max_output=50)
    assert out.startswith("[... ")
    assert out.endswith("9999\n10000\n")
    assert len(out.split("\n", 1)[1].encode()) == 50


def _alive(fleet: SshFleet, pidfile: str) -> bool:
    return fleet.sh(0, f"kill -0 $(cat {pidfile}) 2>/dev/null && echo y || echo n").strip() == "y"


def test_timeout_kills_the_whole_process_group(conn: SshConnection, fleet: SshFleet, base: str) -> None:
    conn.ensure_dir(base)
    pidfile = f"{base}/child.pid"
    started = time.monotonic()
    r = conn.run(
        f"echo started; sleep 30 & echo $! > {pidfile}; sleep 30",
        cwd=None,
        env={},
        timeout=5,  # long enough for `echo` to run even on a busy machine
        max_output=1024,
    )
    assert (r.timed_out, r.exit_code, r.output) == (True, -1, "started\n")
    assert time.monotonic() - started < 25  # killed at the timeout, not after the 30 s sleep
    deadline = time.monotonic() + 5
    while _alive(fleet, pidfile) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(fleet, pidfile)
    assert _run(conn, "echo still usable")[1] == "still usable\n"  # the connection survives


def test_a_background_child_holding_stdout_does_not_hang_run(
    conn: SshConnection, fleet: SshFleet, base: str
) -> None:
    conn.ensure_dir(base)
    pidfile = f"{base}/bg.pid"
    r = conn.run(f"sleep 30 & echo $! > {pidfile}; echo done", cwd=None, env={}, timeout=10, max_output=1024)
    try:
        assert (r.exit_code, r.output, r.timed_out) == (0, "done\n", False)
        assert r.duration_seconds < 10
    finally:
        fleet.sh(0, f"kill $(cat {pidfile})", check=False)


def test_interrupt_kills_a_running_command_promptly(fleet: SshFleet) -> None:
    interrupt = threading.Event()
    conn = connect_host(fleet.target(), fleet.hosts[0].address, interrupt=interrupt)
    try:
        marker = f"{fleet.root}/begun-{uuid.uuid4().hex[:8]}"

        def interrupt_once_begun() -> None:  # not on a timer: a busy host may start it late
            deadline = time.monotonic() + 20
            while fleet.sh(0, f"test -e {marker} && echo y || echo n").strip() != "y":
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            interrupt.set()

        threading.Thread(target=interrupt_once_begun, daemon=True).start()
        started = time.monotonic()
        r = conn.run(f"echo begun; touch {marker}; sleep 30", cwd=None, env={}, timeout=60, max_output=1024)
        assert time.monotonic() - started < 25  # killed on the interrupt, not after the sleep
        assert r.exit_code == -1 and not r.timed_out
        assert r.output.startswith("begun\n") and "interrupted" in r.output
    finally:
        conn.close()


def test_registry_connects_every_host_in_order(fleet: SshFleet) -> None:
    registry = TargetRegistry({"vms": fleet.target(batch=2)})
    hosts = registry.connect_hosts("vms")
    try:
        assert [h.name for h in hosts] == [h.address for h in fleet.hosts]
        assert registry.batch_size("vms") == 2
        outputs = [
            h.run("hostname >/dev/null; echo ok", cwd=None, env={}, timeout=10, max_output=64) for h in hosts
        ]
        assert [r.output for r in outputs] == ["ok\n"] * 3
    finally:
        for h in hosts:
            h.close()


def test_unknown_host_key_is_refused(fleet: SshFleet, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = fleet.hosts[1]
    with pytest.raises(HostKeyRejected) as caught:
        connect_host(fleet.target(known_hosts=str(empty)), host.address)
    message = str(caught.value)
    assert host.address in message and "unknown" in message and str(empty) in message
    assert not caught.value.retryable


def test_changed_host_key_is_refused(fleet: SshFleet, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, blob = Path(f"{other}.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{fleet.hosts[2].port} {kind} {blob}\n")
    with pytest.raises(HostKeyRejected, match="CHANGED") as caught:
        connect_host(fleet.target(known_hosts=str(known)), fleet.hosts[2].address)
    assert fleet.hosts[2].address in str(caught.value) and str(known) in str(caught.value)


def test_a_missing_known_hosts_file_is_refused(fleet: SshFleet, tmp_path: Path) -> None:
    with pytest.raises(HostKeyRejected, match="does not exist"):
        connect_host(fleet.target(known_hosts=str(tmp_path / "nope")), fleet.hosts[0].address)


def test_wrong_user_key_is_refused(fleet: SshFleet, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    with pytest.raises(SshAuthenticationFailed) as caught:
        connect_host(fleet.target(key_file=str(stranger)), fleet.hosts[0].address)
    assert fleet.hosts[0].address in str(caught.value) and str(stranger) in str(caught.value)
    assert not caught.value.retryable


def test_one_unreachable_host_fails_the_whole_connect(fleet: SshFleet) -> None:
    dead = fleet.target(hosts=[fleet.hosts[0].address, "127.0.0.1:1"])
    with pytest.raises(TargetUnreachable, match=re.escape("127.0.0.1:1: cannot connect")) as caught:
        connect_ssh(dead)
    assert caught.value.retryable


def test_a_host_that_dies_mid_command_is_unreachable(tmp_path: Path) -> None:
    with running_fleet(tmp_path / "own", 1) as own:
        conn = connect_host(own.target(), own.hosts[0].address)
        try:
            threading.Timer(0.5, own.kill, args=(0,)).start()
            with pytest.raises(TargetUnreachable, match=re.escape(own.hosts[0].address)):
                conn.run("sleep 30", cwd=None, env={}, timeout=60, max_output=1024)
            with pytest.raises(TargetUnreachable):
                conn.exists("/")
            own.start(0)
            with pytest.raises(TargetUnreachable):  # the old connection stays dead; reconnect
                conn.exists("/")
            again = connect_host(own.target(), own.hosts[0].address)
            assert again.exists(str(own.root))
            again.close()
        finally:
            conn.close()


def test_a_short_upload_on_a_full_disk_is_an_error_naming_host_path_and_bytes(
    conn: SshConnection, fleet: SshFleet, base: str
) -> None:
    fleet.sh(0, f"mkdir -p {base} && mount -t tmpfs -o size=64k none {base}")
    try:
        with pytest.raises(DeploymentStepFailed) as info:
            conn.write_file(f"{base}/big.bin", b"x" * 200_000)
        message = str(info.value)
        assert f"{conn.name}: upload of {base}/big.bin is incomplete" in message
        assert "of 200000 bytes arrived" in message and "KiB free" in message
        assert conn.list_dir(base) == []  # neither the file nor its temporary upload is left
    finally:
        fleet.sh(0, f"umount {base}", check=False)


def test_tree_sha256_and_kinds(conn: SshConnection, base: str) -> None:
    conn.ensure_dir(f"{base}/a")
    conn.write_file(f"{base}/a/b.txt", b"b")
    conn.write_file(f"{base}/.hidden", b"h")
    conn.replace_symlink(f"{base}/link", "a")
    assert conn.tree_sha256(base) == {
        "a/b.txt": hashlib.sha256(b"b").hexdigest(),
        ".hidden": hashlib.sha256(b"h").hexdigest(),
    }
    assert conn.tree_sha256(f"{base}/missing") == {}
    assert [conn.kind(f"{base}/{n}") for n in ("a", "a/b.txt", "link", "none")] == [
        "dir",
        "file",
        "link",
        None,
    ]
    assert conn.file_size(f"{base}/a/b.txt") == 1 and conn.file_size(f"{base}/a") is None
    free = conn.free_bytes(f"{base}/not/yet/made")
    assert free is not None and free > 0


def test_files_sha256_hashes_the_named_files_in_one_command(
    conn: SshConnection, base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only regular files among those named (no symlink, folder or missing one), keyed as named,
    odd names included; one command for them all, more only past the bound on a command's paths."""
    conn.ensure_dir(f"{base}/a")
    for name, data in {"a/b.txt": b"b", "-dash": b"d", "sp ace's": b"s", "other": b"o"}.items():
        conn.write_file(f"{base}/{name}", data)
    conn.replace_symlink(f"{base}/link", "other")
    commands: list[str] = []
    real_run = conn.run

    def counting(command: str, **kw: object) -> object:
        commands.append(command)
        return real_run(command, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(conn, "run", counting)
    named = ["a/b.txt", "-dash", "sp ace's", "link", "a", "missing"]
    expected = {
        n: hashlib.sha256(d).hexdigest() for n, d in [("a/b.txt", b"b"), ("-dash", b"d"), ("sp ace's", b"s")]
    }

    assert conn.files_sha256(base, named) == expected
    assert len(commands) == 1
    monkeypatch.setattr("lockstep.targets.ssh._PATHS_PER_COMMAND_BYTES", 12)
    assert conn.files_sha256(base, named) == expected
    assert len(commands) > 2
    assert conn.files_sha256(f"{base}/missing", named) == {}
