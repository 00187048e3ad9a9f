"""The read-only view of one commit's files that manifest loading and rendering work on.

The Git adapter provides one per commit; tests use `MemorySourceTree`. Paths are posix, relative
to the repository root, without a leading slash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class PathOutsideRepository(ValueError):
    """A path (or a symlink's target) resolves outside the repository."""


class SourceTree(Protocol):
    def read(self, path: str) -> bytes:
        """The file's bytes (symlinks inside the tree followed). FileNotFoundError if absent,
        PathOutsideRepository if the path or a symlink leaves the repository."""
        ...

    def size(self, path: str) -> int:
        """The file's size in bytes, known without reading it; the same errors as `read`."""
        ...

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def walk(self, prefix: str) -> list[str]:
        """Every file below the folder `prefix` ("" for the root), as repo-relative paths, sorted."""
        ...


class MemorySourceTree:
    """A SourceTree over a dict of path -> bytes; folders are implied by the paths."""

    def __init__(self, files: Mapping[str, bytes | str]) -> None:
        self._files = {p.strip("/"): (v.encode() if isinstance(v, str) else v) for p, v in files.items()}

    def read(self, path: str) -> bytes:
        try:
            return self._files[path.strip("/")]
        except KeyError:
            raise FileNotFoundError(path) from None

    def size(self, path: str) -> int:
        return len(self.read(path))

    def is_file(self, path: str) -> bool:
        return path.strip("/") in self._files

    def is_dir(self, path: str) -> bool:
        prefix = path.strip("/")
        if not prefix:
            return True
        return any(p.startswith(prefix + "/") for p in self._files)

    def walk(self, prefix: str) -> list[str]:
        base = prefix.strip("/")
        if not base:
            return sorted(self._files)
        return sorted(p for p in self._files if p.startswith(base + "/"))
