"""The contract every host-like target implements: one `HostConnection` per host.

Owns the `HostConnection` Protocol (files, symlinks and shell commands on one host, addressed by
absolute host paths), the `CommandResult` it returns, and `OutputTail`, the bounded tail buffer
both the local and the ssh connection use to capture command output.

It deliberately knows nothing about releases, `current` links or health: that logic lives once in
`lockstep.targets.releases` on top of this Protocol, so a new host-like target (ssh over SFTP)
only has to implement the connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    """One shell command run on a host.

    `output` is stdout and stderr interleaved as the host produced them, cut to the last
    `max_output` bytes and then prefixed with `[... N bytes truncated]` (see `OutputTail`).
    A command that hit its timeout has `timed_out=True` and `exit_code=-1`.
    """

    command: str
    exit_code: int
    output: str
    duration_seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class OutputTail:
    """Keeps only the last `max_output` bytes of a stream while counting everything fed to it.

    Memory stays bounded however chatty a command is; the tail is what explains a failure.
    """

    def __init__(self, max_output: int) -> None:
        self._max = max(0, max_output)
        self._buf = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self._buf += chunk
        if len(self._buf) > self._max:
            del self._buf[: len(self._buf) - self._max]

    def text(self) -> str:
        """The tail decoded as UTF-8 (invalid bytes replaced), prefixed when bytes were dropped."""
        body = bytes(self._buf).decode("utf-8", errors="replace")
        dropped = self.total - len(self._buf)
        return f"[... {dropped} bytes truncated]\n{body}" if dropped else body


def truncate_output(data: bytes, max_output: int) -> str:
    """`data` cut to its last `max_output` bytes, in the `CommandResult.output` format."""
    tail = OutputTail(max_output)
    tail.feed(data)
    return tail.text()


class HostConnection(Protocol):
    """Files, symlinks and commands on one host. Every `path` is ABSOLUTE as the host sees it.

    Implementations: `LocalConnection` (paths kept under the local target's root) and the ssh
    connection (paramiko/SFTP). Methods are synchronous and called from activity threads.
    A parent directory must exist before `write_file`; callers use `ensure_dir` first.
    """

    name: str  # host label for step records: "local", or "host:port" for ssh

    def ensure_dir(self, path: str) -> None:
        """Create the directory and its parents; no error if it exists."""
        ...

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Create or overwrite a regular file with `data` and set its permission bits to `mode`."""
        ...

    def read_file(self, path: str) -> bytes | None:
        """The content of a regular file, or None if it does not exist."""
        ...

    def file_sha256(self, path: str) -> str | None:
        """Hex sha256 of a regular file's content, or None if there is no such file."""
        ...

    def kind(self, path: str) -> str | None:
        """What is at `path`, not following a final symlink: "file", "dir", "link", "other"
        (a device, fifo or socket), or None when nothing is."""
        ...

    def file_size(self, path: str) -> int | None:
        """The size of a regular file (following links), or None if there is no such file."""
        ...

    def free_bytes(self, path: str) -> int | None:
        """Bytes free to this user on the filesystem holding `path`, None when it cannot be told."""
        ...

    def tree_sha256(self, path: str) -> dict[str, str]:
        """Hex sha256 of every regular file under the folder `path`, keyed by its path relative
        to it (`a/b.txt`); symlinks are not followed. {} if the folder does not exist."""
        ...

    def tree_files(self, path: str, limit: int) -> list[str] | None:
        """The paths (relative to the folder `path`) of the regular files under it, symlinks not
        followed, sorted; [] if the folder does not exist; None when there are more than
        `limit` (nothing is read but names)."""
        ...

    def files_sha256(self, path: str, files: Sequence[str]) -> dict[str, str]:
        """Hex sha256 of those of `files` (paths relative to the folder `path`) that are regular
        files there, symlinks not followed, keyed as given; the others are left out. As few
        round trips as the connection can (one command for many files over ssh)."""
        ...

    def exists(self, path: str) -> bool:
        """Whether anything (file, directory, symlink, even a dangling one) is at `path`."""
        ...

    def readlink(self, path: str, *, verbatim: bool = False) -> str | None:
        """The target stored in a symlink (possibly relative), or None if absent or not a link.
        `verbatim`: exactly the bytes stored, with no mapping of host paths (the local target
        maps absolute paths under its root otherwise)."""
        ...

    def replace_symlink(self, link: str, target: str, *, verbatim: bool = False) -> None:
        """Point `link` at `target` atomically: a temporary link beside it is renamed over it,
        so `link` is never missing. `target` is stored as given (relative targets stay relative);
        `verbatim` stores it with no mapping at all (to restore what `readlink(verbatim=True)` read).
        """
        ...

    def remove(self, path: str) -> None:
        """Remove a file, a symlink (not what it points at) or a whole tree; no error if absent."""
        ...

    def rename(self, src: str, dst: str) -> None:
        """Rename `src` to `dst`, replacing a file or link at `dst` (not a non-empty directory)."""
        ...

    def list_dir(self, path: str) -> list[str]:
        """Entry names in a directory, sorted; [] if it does not exist."""
        ...

    def run(
        self, command: str, *, cwd: str | None, env: Mapping[str, str], timeout: float, max_output: int
    ) -> CommandResult:
        """Run a shell command. On timeout its whole process group is killed and the result has
        `timed_out=True`, `exit_code=-1`. A command that cannot even start (missing `cwd`) is a
        result with exit code 127 whose output says why, not an exception.
        """
        ...

    def close(self) -> None:
        """Release the connection; further calls are not allowed."""
        ...


@dataclass(frozen=True)
class HostReach:
    """One host of a target after an attempt to connect to it: the connection, or the error
    that stopped it (`TargetUnreachable` when a later attempt may succeed). Exactly one of
    `connection` and `error` is set; `name` is the label the connection would carry."""

    name: str
    connection: HostConnection | None = None
    error: Exception | None = None
