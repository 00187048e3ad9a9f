"""Which files of a release its deploy commands wrote, so that a file added by hand shows.

A release folder holds what Lockstep staged (listed in `.lockstep-files`) and, after a
deployment, what its deploy commands wrote there (a `status`, a `migrated.txt`). Once the deploy
commands of a deployment (or of a rollback) have run on a host, `record_written` lists in
`<release>/.lockstep-written` every other file the release holds at that moment. A file that is in
neither list appeared afterwards: someone added it by hand (or a running service writes into its
release folder, which a manifest can ignore with `drift.ignore`). A release without the list (one
staged before it existed, or whose deploy step never finished) tells nothing of the sort.

Format: `written <n>` then one JSON-quoted path per line, at most `MAX_WRITTEN_BYTES` (past the
bound no list is written, and nothing is reported as added). Read back by `written_files`.

Deliberately does not: judge what a file is (`lockstep.delivery.host_live`), nor run commands.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from lockstep.targets.host import HostConnection
from lockstep.targets.release_layout import FILES_LIST, MARKER, is_owned_release, release_name
from lockstep.targets.releases import current_release, release_dir, release_files

WRITTEN_LIST = ".lockstep-written"
OWN_FILES = frozenset({MARKER, FILES_LIST, WRITTEN_LIST})  # Lockstep's bookkeeping in a release
MAX_WRITTEN_BYTES = 1024 * 1024


def record_written(conn: HostConnection, folder: str, staged: Collection[str]) -> None:
    """List in `folder` (a release) the files it holds that are not `staged` nor Lockstep's own;
    with none past the bound, remove a stale list instead (nothing is then reported as added)."""
    present = sorted(rel for rel in conn.tree_sha256(folder) if rel not in OWN_FILES and rel not in staged)
    data = f"written {len(present)}\n{''.join(json.dumps(rel) + chr(10) for rel in present)}".encode()
    path = f"{folder}/{WRITTEN_LIST}"
    if len(data) > MAX_WRITTEN_BYTES:
        conn.remove(path)
        return
    conn.write_file(path, data)


def record_written_in_current(conn: HostConnection, dest: str) -> None:
    """`record_written` in the release `<dest>/current` points at, after deploy commands ran
    there; nothing for a link Lockstep did not make, or a release staged without its list."""
    name = release_name(current_release(conn, dest))
    if name is None or not is_owned_release(conn, dest, name):
        return
    staged = release_files(conn, dest, name)
    if staged is not None:
        record_written(conn, release_dir(dest, name), set(staged))


def written_files(conn: HostConnection, folder: str) -> set[str] | None:
    """The files a release's deploy commands wrote, or None when it has no readable list."""
    size = conn.file_size(f"{folder}/{WRITTEN_LIST}")
    if size is None or size > MAX_WRITTEN_BYTES:
        return None
    try:
        lines = (conn.read_file(f"{folder}/{WRITTEN_LIST}") or b"").decode("utf-8").splitlines()
        count = int(lines[0].removeprefix("written ")) if lines and lines[0].startswith("written ") else -1
        found = {json.loads(line) for line in lines[1:]}
    except (ValueError, TypeError):  # UnicodeDecodeError and JSONDecodeError too
        return None
    if count != len(found) or not all(isinstance(p, str) for p in found):
        return None
    return found
