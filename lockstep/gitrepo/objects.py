"""`ObjectReader`: one long-lived `git cat-file --batch-command` per repository, for hot-path reads.

Owns reading single objects (a commit, a tree, a blob) by name without starting a process per
read: the webhook path reads `lockstep.yaml` at every pushed commit, and a process start costs
more than everything else a delivery does. Git looks again for new packs when an object is
missing, so objects a fetch brought in after the process started are found. A blob read with a
size bound asks for the size first (`info`) and the content (`contents`) only when it fits, so
an oversized file is refused without being read and the process stays usable (git >= 2.36).

Deliberately does not fetch, walk symlinks or list folders: `GitMirrors` and `GitTree` do that.
"""

from __future__ import annotations

import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

_MODE_SYMLINK = b"120000"
_BLOBS_KEPT = 256  # content-addressed, so never stale: most pushes leave lockstep.yaml alone
_BLOB_KEPT_BYTES = 256 * 1024


@dataclass(frozen=True)
class GitObject:
    kind: str  # commit, tree, blob or tag
    data: bytes


@dataclass(frozen=True)
class TreeEntry:
    mode: bytes
    sha: str

    @property
    def is_symlink(self) -> bool:
        return self.mode == _MODE_SYMLINK

    @property
    def is_blob(self) -> bool:
        return self.mode.startswith(b"100")


class ObjectTooLarge(Exception):
    """A blob larger than the bound it was read with; `size` is its size in bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


class ObjectReader:
    """Objects of the repository at `path`, through one `cat-file --batch-command` process (restarted
    if it dies); thread-safe: one request at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._blobs: OrderedDict[str, bytes] = OrderedDict()  # sha -> content, newest last
        self._blobs_guard = threading.Lock()

    def read(self, name: str, *, max_bytes: int | None = None) -> GitObject | None:
        """The object `name` (a sha, or `<sha>^{tree}`-style) names, or None if there is none.

        ObjectTooLarge, without reading the content, when it is larger than `max_bytes`.
        """
        if "\n" in name:
            raise ValueError("object names cannot contain a newline")
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._ask(name, max_bytes)
                except (BrokenPipeError, OSError, EOFError):
                    self._stop()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def tree_entry(self, commit: str, name: str) -> TreeEntry | None:
        """The entry `name` of the root folder of commit `commit`; None if absent.

        Raises LookupError when `commit` is not a commit in this repository.
        """
        # One question, not two: git peels the commit to its root tree itself, and refuses a
        # name that is not a commit (a tree or a blob) as missing.
        tree = self.read(f"{commit}^{{commit}}^{{tree}}")
        if tree is None or tree.kind != "tree":
            raise LookupError(commit)
        return _find_entry(tree.data, name.encode())

    def blob(self, sha: str, *, max_bytes: int | None = None) -> bytes | None:
        """The content of blob `sha`; small blobs are kept, since a blob never changes.

        ObjectTooLarge, without reading the content, when it is larger than `max_bytes`.
        """
        with self._blobs_guard:
            kept = self._blobs.get(sha)
            if kept is not None and (max_bytes is None or len(kept) <= max_bytes):
                self._blobs.move_to_end(sha)
                return kept
        found = self.read(sha, max_bytes=max_bytes)
        if found is None or found.kind != "blob":
            return None
        if len(found.data) <= _BLOB_KEPT_BYTES:
            with self._blobs_guard:
                self._blobs[sha] = found.data
                while len(self._blobs) > _BLOBS_KEPT:
                    self._blobs.popitem(last=False)
        return found.data

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _ask(self, name: str, max_bytes: int | None) -> GitObject | None:
        process = self._running()
        assert process.stdin is not None and process.stdout is not None
        if max_bytes is not None:
            header = self._command(process, b"info", name)
            if header is None:
                return None
            if header[1] > max_bytes:
                raise ObjectTooLarge(header[1])
        header = self._command(process, b"contents", name)
        if header is None:
            return None
        kind, size = header
        data = process.stdout.read(size + 1)[:size]  # the content, then a newline
        return GitObject(kind=kind, data=data)

    @staticmethod
    def _command(process: subprocess.Popen[bytes], command: bytes, name: str) -> tuple[str, int] | None:
        """Send one command; (kind, size) from the answer's header, None for a missing object."""
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(command + b" " + name.encode() + b"\n")
        process.stdin.flush()
        header = process.stdout.readline()
        if not header:
            raise EOFError("git cat-file ended")
        parts = header.split()
        if len(parts) != 3:  # "<name> missing" or "<name> ambiguous"
            return None
        return parts[1].decode(), int(parts[2])

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                ["git", "-C", str(self.path), "cat-file", "--batch-command"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._process

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _find_entry(tree: bytes, name: bytes) -> TreeEntry | None:
    """Parse a raw tree object (`<mode> <name>\\0<20-byte sha>` repeated) for `name`."""
    at = 0
    while at < len(tree):
        space = tree.index(b" ", at)
        nul = tree.index(b"\0", space)
        if tree[space + 1 : nul] == name:
            return TreeEntry(mode=tree[at:space], sha=tree[nul + 1 : nul + 21].hex())
        at = nul + 21
    return None
