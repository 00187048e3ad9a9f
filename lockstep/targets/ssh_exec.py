"""Running one shell command on an ssh host: the wrapper, the output loop and killing its group.

Owns what `SshConnection.run` does with a session channel the connection opened: `start_command`
sends the wrapped command line (`wrap_command`) on it, `collect_output` reads it until the command
exits, times out or is interrupted, keeping the last `max_output` bytes, and `kill_process_group`
kills the command's process group through a second channel. A command runs as `/bin/sh -c` in its
own process group (sshd makes every session a group leader), whose id the wrapper prints first so
the whole group, children included, can be killed.

It deliberately holds no connection: the caller owns the paramiko client, opens the channels and
turns library errors into Lockstep errors naming the host (`lockstep.targets.ssh`). Files, SFTP
and host keys are not here either.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import threading
import time
from collections.abc import Callable, Mapping

import paramiko

from lockstep.domain.errors import TargetUnreachable
from lockstep.targets.host import CommandResult, OutputTail

NETWORK_ERRORS = (paramiko.SSHException, EOFError, TimeoutError, ConnectionError)
"""What paramiko raises when the connection fails; the caller's boundary makes them retryable."""

_PGID_MARK = b"lockstep-pgid "
_DRAIN_SECONDS = 2.0  # after exit, how long a background child holding stdout may delay `run`
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def wrap_command(command: str, *, cwd: str | None, env: Mapping[str, str]) -> str:
    """The remote command line: report the process group, enter `cwd`, export `env`, run.

    Env vars are exported by the shell rather than sent as ssh `env` requests, which sshd refuses
    unless AcceptEnv lists them. The outer shell stays the group leader, so killing the group
    kills the command and its children, and a command killed by a signal exits 128+n.
    """
    # stderr joins stdout in ONE pipe on the host: sshd reads two pipes in no fixed order.
    lines = ["exec 2>&1", 'echo "lockstep-pgid $$"']
    if cwd is not None:
        why = shlex.quote(f"cannot start command in {cwd}")
        lines.append(f"cd -- {shlex.quote(cwd)} || {{ echo {why} >&2; exit 127; }}")
    for key, value in env.items():
        if not _ENV_NAME.fullmatch(key):
            raise ValueError(f"invalid environment variable name {key!r}")
        lines.append(f"export {key}={shlex.quote(value)}")
    lines.append(f"/bin/sh -c {shlex.quote(command)} </dev/null")
    return f"exec /bin/sh -c {shlex.quote(chr(10).join(lines))}"


def start_command(
    channel: paramiko.Channel, command: str, *, cwd: str | None, env: Mapping[str, str]
) -> None:
    """Start `command` (wrapped) on a fresh session channel, read back in short polls."""
    channel.set_combine_stderr(True)  # `wrap_command` joins them on the host; this catches the rest
    channel.settimeout(0.1)
    channel.exec_command(wrap_command(command, cwd=cwd, env=env))


def collect_output(
    channel: paramiko.Channel,
    command: str,
    *,
    name: str,
    started: float,
    timeout: float,
    max_output: int,
    interrupt: threading.Event | None,
    alive: Callable[[], bool],
    kill_group: Callable[[int | None], None],
) -> CommandResult:
    """Read a started command's channel to its end; on timeout or `interrupt`, kill its group.

    `alive` says whether the connection still stands (a channel closed without an exit status on
    a dead connection is `TargetUnreachable`); `kill_group` receives the process group the
    wrapper reported (None before it did, 0 when the first line was not the mark).
    """
    tail, head, pgid = OutputTail(max_output), b"", None
    deadline = started + max(timeout, 0.0)
    eof = False
    exited_at: float | None = None
    timed_out = interrupted = False

    def take(chunk: bytes) -> None:
        nonlocal head, pgid
        if pgid is not None:
            tail.feed(chunk)
            return
        head += chunk
        if b"\n" in head:  # the wrapper's first line names the process group
            first, rest = head.split(b"\n", 1)
            marked = first.startswith(_PGID_MARK) and first[len(_PGID_MARK) :].isdigit()
            pgid = int(first[len(_PGID_MARK) :]) if marked else 0
            tail.feed(rest if marked else head)

    def take_buffered() -> None:
        # What the host already sent is buffered here even when this thread was starved:
        # read it before deciding anything (it holds the process group and the output), but
        # not for ever from a command that never stops printing.
        until = time.monotonic() + 0.5
        while channel.recv_ready() and time.monotonic() < until:
            take(channel.recv(65536))

    while True:
        now = time.monotonic()
        if channel.exit_status_ready():
            exited_at = exited_at or now
            # After the exit status, wait a little for EOF, but not for a background child
            # that still holds stdout open.
            waited = now - exited_at
            if eof or (waited >= _DRAIN_SECONDS and not channel.recv_ready()) or waited >= 5 * _DRAIN_SECONDS:
                break
        elif now >= deadline:
            timed_out = True
        elif interrupt is not None and interrupt.is_set():
            interrupted = True
        if timed_out or interrupted:
            take_buffered()
            kill_group(pgid)
            break
        if eof:
            if channel.closed and not channel.exit_status_ready():
                break
            channel.status_event.wait(0.1)
            continue
        try:
            chunk = channel.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            eof = True
        else:
            take(chunk)
    if pgid is None:
        tail.feed(head)
    stopped = timed_out or interrupted
    # paramiko marks a channel "exited" (status -1) when it closes without an exit status,
    # which is also what a dropped connection looks like.
    status = -1 if stopped or not channel.exit_status_ready() else channel.recv_exit_status()
    if not stopped and status == -1 and not alive():
        raise TargetUnreachable(f"{name}: connection lost while running {command!r}")
    output = tail.text()
    if interrupted:
        output += "\n[interrupted: the deployment was cancelled]"
    elif not stopped and status == -1:
        output += "\n[the command ended without an exit status]"
    exit_code = status
    return CommandResult(command, exit_code, output, time.monotonic() - started, timed_out)


def kill_process_group(transport: paramiko.Transport, pgid: int, *, io_timeout: float) -> None:
    """Kill process group `pgid` through a second channel; a failure to do so is ignored."""
    with contextlib.suppress(*NETWORK_ERRORS, OSError):
        killer = transport.open_session(timeout=io_timeout)
        killer.exec_command(f"kill -9 -{pgid} 2>/dev/null; true")  # dash: no `--` after a signal
        killer.status_event.wait(io_timeout)
        killer.close()
