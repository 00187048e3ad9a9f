"""How a relative path in the server configuration becomes absolute: one rule for every command.

The rule: `~` is expanded, then a relative path is taken against one base folder, the folder
that holds the configuration file (or the working directory when there is no file), whether the
value came from the file or from a `LOCKSTEP_*` variable. `load_settings` picks the base and
applies these functions once, so the CLI, the worker, the API and `lockstep dev` agree on where
the state folder, the SQLite file, a local target's root or a key file is, whatever folder each
was started from, and git never sees a relative path under a working directory of its own.

Owns: recognising which strings are paths (a SQLite URL's file, a repository given as a local
path rather than a URL) and joining them to the base. Deliberately does not: choose the base, know
the settings' shape (`lockstep.settings` does both), touch the filesystem, or resolve symlinks
(a local target resolves its own root).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# `sqlite:///relative.db` and `sqlite+pysqlite:///relative.db` name a file relative to the process's
# working directory; `sqlite:////abs.db` an absolute one; `sqlite://` and `:memory:` no file.
_SQLITE_URL = re.compile(r"^(sqlite(?:\+\w+)?:///)([^?]*)(\?.*)?$")


def absolute(path: str, base: Path) -> str:
    """`path` with `~` expanded and, when relative, joined to `base` and normalised."""
    expanded = Path(path).expanduser()
    if expanded.is_absolute():
        return str(expanded)
    return os.path.normpath(base / expanded)


def absolute_sqlite_url(url: str, base: Path) -> str:
    """A SQLite URL naming a relative file, made to name it absolutely; any other URL as given."""
    m = _SQLITE_URL.match(url)
    if m is None:
        return url
    prefix, file, query = m.group(1), m.group(2), m.group(3) or ""
    if not file or file == ":memory:" or file.startswith(("file:", "/")):
        return url
    return prefix + absolute(file, base) + query


def is_local_path(url: str) -> bool:
    """Whether a repository location is a path, as git decides: not `scheme://…`, and not the
    scp-like `host:path` (a colon before any slash)."""
    if "://" in url:
        return False
    colon, slash = url.find(":"), url.find("/")
    return colon == -1 or (slash != -1 and slash < colon)


def absolute_repository(url: str, base: Path) -> str:
    """A repository given as a relative local path, made absolute; URLs as given."""
    return absolute(url, base) if is_local_path(url) else url
