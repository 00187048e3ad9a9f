"""The net under every command: an error nobody anticipated becomes one line on stderr, exit 1.

The line names the cause and the file that holds the full trace: `$XDG_STATE_HOME/lockstep/traces/`
(default `~/.local/state/lockstep/traces/`), or the system's temp folder when that cannot be
written. Files are created 0600 in a 0700 folder (a trace can quote paths and URLs of the
server configuration) and only the newest few are kept. `lockstep --debug …` or `LOCKSTEP_DEBUG=1`
prints the trace instead.

Errors the commands expect (a bad configuration, an unreachable server, a refused approval) are
reported by `lockstep.cli.common.handles_errors` with their own message and never reach here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from lockstep import __version__

KEEP_TRACES = 20
_debug = False


def enable_debug() -> None:
    global _debug
    _debug = True


def debug_enabled() -> bool:
    return _debug or os.environ.get("LOCKSTEP_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def report_unexpected(err: BaseException) -> int:
    """Print one line naming `err` and where its trace went (or the trace, in debug); return 1."""
    trace = "".join(traceback.format_exception(err))
    if debug_enabled():
        sys.stderr.write(trace)
        sys.stderr.write(f"error: {cause(err)}\n")
        return 1
    try:
        where = f"full trace in {write_trace(trace)}"
    except OSError as write_error:
        where = f"the trace could not be written: {write_error.strerror or write_error}"
    sys.stderr.write(f"error: {cause(err)} ({where}; run with --debug to print it)\n")
    return 1


def cause(err: BaseException) -> str:
    """`Type: first line of the message`, of `err` or else of the first error in its chain that
    has a message (a bare `raise X() from err` says nothing itself)."""
    chain = [err]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and nxt not in chain:
        chain.append(nxt)
    named = next((e for e in chain if str(e).strip()), err)
    lines = str(named).strip().splitlines()
    return f"{type(named).__name__}: {lines[0]}" if lines else type(named).__name__


def trace_folder() -> Path:
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "lockstep" / "traces"


def write_trace(trace: str) -> Path:
    """Write the trace to a new 0600 file; return its path. Falls back to the temp folder."""
    header = f"lockstep {__version__}, Python {sys.version.split()[0]}\n$ {' '.join(sys.argv)}\n\n"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"trace-{stamp}-{os.getpid()}.txt"
    try:
        folder = trace_folder()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        _prune(folder)
    except OSError:
        fd, raw = tempfile.mkstemp(prefix="lockstep-trace-", suffix=".txt")  # 0600 by construction
        path = Path(raw)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(header + trace)
    return path


def _prune(folder: Path) -> None:
    """Keep the newest KEEP_TRACES files: a script failing in a loop must not fill the disk."""
    traces = sorted(folder.glob("trace-*.txt"), key=lambda p: p.name, reverse=True)
    for old in traces[KEEP_TRACES:]:
        with contextlib.suppress(OSError):  # another process pruned it first
            old.unlink()
