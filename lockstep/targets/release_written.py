"""Which files of a release its deploy commands wrote, so that a file added by hand shows.

A release folder holds what Lockstep staged (listed in `.lockstep-files`) and, after a
deployment, what its deploy commands wrote there (a `status`, a `migrated.txt`). Around every run
of deploy commands on a host (a deployment's, or a rollback's), `before_commands` notes the names
in the release `current` points at, and `after_commands` adds to `<release>/.lockstep-written`
the files that appeared while the commands ran. A file that is in neither list appeared at
another time: someone added it by hand (or a running service writes into its release folder,
which a manifest can ignore with `drift.ignore`). The first record of a release that has none
(one staged before the record existed) takes every unstaged file present after the commands:
nothing can tell older additions apart there. A release without a record, or whose record is past
its bound, tells nothing of the sort: nothing in it is reported as added.

Only names are read, at most `MAX_WRITTEN_FILES`; recording is best effort (bookkeeping never
fails a deployment or a rollback): on an error, or past the bound, the record is removed. It is
written only as a regular file Lockstep can replace, never through a link.

Format: `written <n>` then one JSON-quoted path per line. Read back by `written_files`.

Deliberately does not: judge what a file is (`lockstep.delivery.host_live`), nor run commands.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass

from lockstep.domain.errors import LockstepError
from lockstep.targets.host import HostConnection
from lockstep.targets.release_layout import (
    FILES_LIST,
    MARKER,
    WRITTEN_LIST,
    is_owned_release,
    release_name,
)
from lockstep.targets.releases import current_release, release_dir, release_files

OWN_FILES = frozenset({MARKER, FILES_LIST, WRITTEN_LIST})  # Lockstep's bookkeeping in a release
MAX_WRITTEN_FILES = 20_000  # names listed per release; past it nothing is recorded
MAX_WRITTEN_BYTES = 4 * 1024 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """A release as deploy commands are about to run in it."""

    folder: str
    staged: frozenset[str]
    recorded: frozenset[str] | None  # what `.lockstep-written` already listed (None: no record)
    present: frozenset[str]  # the file names it held


def before_commands(conn: HostConnection, dests: list[str]) -> list[Snapshot]:
    """The releases `current` points at under `dests`, as deploy commands are about to run:
    Lockstep's releases with a list of staged files only. Best effort: [] where it fails."""
    found = []
    for dest in dests:
        try:
            name = release_name(current_release(conn, dest))
            if name is None or not is_owned_release(conn, dest, name):
                continue
            staged = release_files(conn, dest, name)
            folder = release_dir(dest, name)
            present = conn.tree_files(folder, MAX_WRITTEN_FILES)
            if staged is None or present is None:
                continue
            recorded = written_files(conn, folder)
            found.append(Snapshot(folder, frozenset(staged), _frozen(recorded), frozenset(present)))
        except (LockstepError, OSError, ValueError) as err:
            log.warning(
                "%s: cannot note the files of %s before the deploy commands: %s", conn.name, dest, err
            )
    return found


def after_commands(conn: HostConnection, snapshots: list[Snapshot]) -> None:
    """Record, per snapshot, the files that appeared while the commands ran (best effort)."""
    for snap in snapshots:
        path = f"{snap.folder}/{WRITTEN_LIST}"
        try:
            now = conn.tree_files(snap.folder, MAX_WRITTEN_FILES)
            if now is None:
                _forget(conn, path)
                continue
            appeared = {rel for rel in now if rel not in snap.present}
            earlier = snap.recorded if snap.recorded is not None else snap.present
            written = sorted((set(earlier) | appeared) - snap.staged - OWN_FILES)
            data = f"written {len(written)}\n{''.join(json.dumps(rel) + chr(10) for rel in written)}".encode()
            if len(data) > MAX_WRITTEN_BYTES or conn.kind(path) not in (None, "file"):
                _forget(conn, path)
                continue
            conn.write_file(path, data)
        except (LockstepError, OSError, ValueError) as err:
            log.warning(
                "%s: cannot record what the deploy commands wrote in %s: %s", conn.name, snap.folder, err
            )
            with contextlib.suppress(LockstepError, OSError, ValueError):
                _forget(conn, path)


def written_files(conn: HostConnection, folder: str) -> set[str] | None:
    """The files a release's deploy commands wrote, or None when it has no readable record."""
    path = f"{folder}/{WRITTEN_LIST}"
    if conn.kind(path) != "file":
        return None
    size = conn.file_size(path)
    if size is None or size > MAX_WRITTEN_BYTES:
        return None
    try:
        lines = (conn.read_file(path) or b"").decode("utf-8").splitlines()
        count = int(lines[0].removeprefix("written ")) if lines and lines[0].startswith("written ") else -1
        found = [json.loads(line) for line in lines[1:]]
    except ValueError:  # UnicodeDecodeError and JSONDecodeError too
        return None
    if count != len(found) or not all(isinstance(p, str) for p in found):
        return None
    return set(found)


def _forget(conn: HostConnection, path: str) -> None:
    """Remove a record that can no longer be kept (only a regular file: never through a link)."""
    if conn.kind(path) == "file":
        conn.remove(path)


def _frozen(names: set[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(names)
