"""`GitTree`: one commit's files read straight from a repository's object database.

Owns the SourceTree view of a commit: path lookup, symlink resolution inside the tree (bounded,
never leaving the repository), listing folders, and the read bounds of `lockstep.domain.limits`:
the listing carries every blob's size, so a file past `SOURCE_FILE_MAX_BYTES`, or one that would
take the tree past `SOURCE_READ_MAX_BYTES` read in all, is refused (a ManifestError naming it)
before its content is read. One tree serves one render, so the total bounds what a render holds.
It never checks anything out, so any number of trees over different commits of the same mirror
can be read at once. It does not fetch, resolve refs or decide which commit to read:
`GitMirrors.tree` does that.
"""

from __future__ import annotations

import posixpath
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import git

from lockstep.domain.limits import (
    SOURCE_FILE_MAX_BYTES,
    SOURCE_READ_MAX_BYTES,
    SYMLINK_TARGET_MAX_BYTES,
    file_too_large,
    read_budget_exceeded,
)
from lockstep.domain.source import PathOutsideRepository

MAX_SYMLINK_HOPS = 40  # same bound as Linux's ELOOP

_MODE_TREE = 0o040000
_MODE_SYMLINK = 0o120000
_MODE_GITLINK = 0o160000


@dataclass(frozen=True)
class _Entry:
    mode: int
    sha: str
    size: int = 0  # bytes, for blobs and symlinks

    @property
    def is_tree(self) -> bool:
        return self.mode == _MODE_TREE

    @property
    def is_symlink(self) -> bool:
        return self.mode == _MODE_SYMLINK

    @property
    def is_blob(self) -> bool:
        return self.mode not in (_MODE_TREE, _MODE_SYMLINK, _MODE_GITLINK)


class GitTree:
    """The files of commit `sha` in the repository at `repo_path` (a bare mirror).

    The listing is read once with `git ls-tree`; blobs are read on demand through one object
    database handle guarded by a lock, so an instance may be shared between threads.
    `max_file_bytes` and `max_read_bytes` bound one file and everything read through this tree.
    """

    def __init__(
        self,
        repo_path: Path,
        sha: str,
        *,
        max_file_bytes: int = SOURCE_FILE_MAX_BYTES,
        max_read_bytes: int = SOURCE_READ_MAX_BYTES,
    ) -> None:
        self.sha = sha
        self._repo = git.Repo(repo_path)
        self._lock = threading.Lock()
        self._link_targets: dict[str, str] = {}
        self._max_file, self._max_read = max_file_bytes, max_read_bytes
        self._read = 0  # bytes handed out by `read` so far
        # Git stores names as bytes; GitPython decodes them as UTF-8 with surrogateescape, so a
        # name that is not UTF-8 keeps its bytes (as surrogates) and is found again by the same
        # str. The renderer refuses such a name where a component would read the file.
        raw = self._repo.git.ls_tree("-r", "-t", "-z", "--long", "--full-tree", sha)
        self._entries: dict[str, _Entry] = {"": _Entry(_MODE_TREE, "")}
        self._children: dict[str, list[str]] = {"": []}
        for record in raw.split("\0"):
            if not record:
                continue
            meta, _, path = record.partition("\t")
            mode, _kind, object_sha, size = meta.split()  # the size is padded; "-" for trees
            entry = _Entry(int(mode, 8), object_sha, int(size) if size.isdigit() else 0)
            self._entries[path] = entry
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            self._children.setdefault(parent, []).append(path)
            if entry.is_tree:
                self._children.setdefault(path, [])

    # -- SourceTree protocol -------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        entry = self._file(path)
        if entry.size > self._max_file:
            raise file_too_large(path, entry.size, self._max_file)
        with self._lock:
            if self._read + entry.size > self._max_read:
                raise read_budget_exceeded(path, self._max_read)
            self._read += entry.size
        return self._blob(entry.sha)

    def size(self, path: str) -> int:
        return self._file(path).size

    def is_file(self, path: str) -> bool:
        real = self._resolve(path)
        return real is not None and self._entries[real].is_blob

    def is_dir(self, path: str) -> bool:
        real = self._resolve(path)
        return real is not None and self._entries[real].is_tree

    def walk(self, prefix: str) -> list[str]:
        """Files below `prefix`, as paths under `prefix` even where a symlinked folder was followed.

        A symlink that leaves the repository raises PathOutsideRepository and a dangling one
        FileNotFoundError, so a file set never silently loses a member.
        """
        base = prefix.strip("/")
        real = self._resolve(base)
        if real is None or not self._entries[real].is_tree:
            return []
        found: list[str] = []
        self._walk_into(real, base, found, chain=(real,))
        return sorted(found)

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._repo.close()

    def __enter__(self) -> GitTree:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------

    def _file(self, path: str) -> _Entry:
        real = self._resolve(path)
        entry = self._entries.get(real) if real is not None else None
        if entry is None:
            raise FileNotFoundError(f"{path}: no such file in commit {self.sha[:12]}")
        if not entry.is_blob:
            raise FileNotFoundError(f"{path}: not a file in commit {self.sha[:12]}")
        return entry

    def _blob(self, sha: str) -> bytes:
        # The object database handle keeps a `git cat-file --batch` process: one reader at a time.
        with self._lock:
            data: bytes = self._repo.odb.stream(bytes.fromhex(sha)).read()
            return data

    def _link_target(self, path: str, entry: _Entry) -> str:
        target = self._link_targets.get(entry.sha)
        if target is None:
            if entry.size > SYMLINK_TARGET_MAX_BYTES:  # a crafted blob, not a path
                raise file_too_large(path, entry.size, SYMLINK_TARGET_MAX_BYTES, "a symlink's target")
            target = self._blob(entry.sha).decode("utf-8", "surrogateescape")
            self._link_targets[entry.sha] = target
        return target

    def _walk_into(self, real_dir: str, shown_dir: str, found: list[str], chain: tuple[str, ...]) -> None:
        for child in self._children.get(real_dir, []):
            name = child.rsplit("/", 1)[-1]
            shown = f"{shown_dir}/{name}" if shown_dir else name
            entry = self._entries[child]
            if entry.is_symlink:
                target = self._resolve(child)
                if target is None:
                    raise FileNotFoundError(f"{shown}: symlink points to nothing in the repository")
                entry = self._entries[target]
                if entry.is_tree:
                    if target in chain or len(chain) > MAX_SYMLINK_HOPS:
                        raise PathOutsideRepository(f"{shown}: symlinked folders form a loop")
                    self._walk_into(target, shown, found, (*chain, target))
                    continue
                child = target
            if entry.is_tree:
                self._walk_into(child, shown, found, chain)
            elif entry.is_blob:
                found.append(shown)

    def _resolve(self, path: str) -> str | None:
        """The real in-tree path that `path` names, symlinks followed; None if it does not exist.

        Raises PathOutsideRepository when `..` or a symlink target leaves the repository root,
        or when symlinks nest deeper than MAX_SYMLINK_HOPS.
        """
        remaining = [p for p in path.strip("/").split("/") if p]
        resolved: list[str] = []
        hops = 0
        while remaining:
            part = remaining.pop(0)
            if part == ".":
                continue
            if part == "..":
                if not resolved:
                    raise PathOutsideRepository(f"{path}: leaves the repository")
                resolved.pop()
                continue
            current = "/".join([*resolved, part])
            entry = self._entries.get(current)
            if entry is None:
                return None
            if entry.is_symlink:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise PathOutsideRepository(f"{path}: too many levels of symbolic links")
                target = self._link_target(current, entry)
                if posixpath.isabs(target):
                    raise PathOutsideRepository(f"{path}: symlink {current} points outside the repository")
                remaining = [p for p in target.split("/") if p] + remaining
                continue
            if remaining and not entry.is_tree:
                return None
            resolved.append(part)
        return "/".join(resolved)
