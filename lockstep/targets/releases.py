"""Releases on a host, written once over any `HostConnection` (local or ssh).

Layout under a component's `dest` (what of it Lockstep owns: `lockstep.targets.release_layout`):

    <dest>/releases/<release>/...            the files of one release (release = commit sha)
    <dest>/releases/<release>/.lockstep-files     the files staged, with their sha256
    <dest>/releases/<release>/.lockstep-release   marker: the content hash, written last
    <dest>/releases/.staging-<release>/      a release being uploaded; renamed into place when whole
    <dest>/releases/.lockstep-history        release names, oldest first, one per line (for pruning)
    <dest>/current -> releases/<release>     relative symlink, switched atomically

Every function converges rather than applies a delta, so a retried activity is harmless: staging
skips a release already complete and resumes an interrupted upload, switching to the release
already current changes nothing. Every staged file is checked on the host (size and sha256)
before the marker is written, so a full disk never yields a release that looks complete. File
modes follow one simple rule: content starting with `#!` is written 0o755, the rest 0o644.

The marker of a complete release is the content hash and a newline, as it has always been (a
worker of an older version, mixed in during an upgrade, takes a release as complete by exactly
that). The files staged are listed beside it in `.lockstep-files`, written and verified before
the marker: `files <n>`, then one line per staged file, `<sha256> <path as a JSON string>`,
sorted by path. The list is what Lockstep put in the release (`release_files`): files a deploy
command writes there later are not on it. A release staged before the list existed has none;
`release_files` gives None for it, and for a release whose list would pass `MAX_LIST_BYTES`
(not written). A marker holding the list after its hash (written by a development version for a
while) is read too.

This module owns no connection; it does not decide which hosts or batches to deploy to, nor
record steps (that is `lockstep.delivery.host`). Commands run through
`lockstep.targets.host_commands`.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import uuid
from collections.abc import Iterable, Mapping

from lockstep.domain.errors import DeploymentStepFailed
from lockstep.targets.host import HostConnection
from lockstep.targets.release_layout import (
    FILES_LIST,
    FOREIGN_LINK,
    HISTORY,
    MARKER,
    STAGING_PREFIX,
    TRASH_PREFIX,
    WRITTEN_LIST,
    LayoutRefused,
    check_layout,
    current_link,
    live_current,
    owned_entries,
    release_dir,
    release_name,
    releases_root,
    verify_tree,
)

__all__ = [
    "current_link",
    "current_release",
    "file_mode",
    "prune_releases",
    "release_dir",
    "release_file_path",
    "release_files",
    "remember_release",
    "rollback_release",
    "stage_release",
    "switch_current",
]

# The list is about 70 bytes plus the path per file: 4 MiB lists tens of thousands of files (a
# release's files are bounded in bytes by the render's read bound, not in number). It is read
# whole by every comparison with the live release, so a longer list is not written.
MAX_LIST_BYTES = 4 * 1024 * 1024


def current_release(conn: HostConnection, dest: str) -> str | None:
    """What `current` holds, as the journal records it: a release name, `link:<target>` for a
    link Lockstep did not make, or None without one. Raises LayoutRefused if it is not a link."""
    return live_current(conn, dest)


def stage_release(
    conn: HostConnection, *, dest: str, release: str, files: Mapping[str, bytes], content_hash: str
) -> bool:
    """Put `files` in `<dest>/releases/<release>`; False if that release is already complete.

    Uploads go to `.staging-<release>` first, which carries the marker as "staging <hash>" from
    its start: a retry with the same hash resumes (files whose sha256 already matches are not
    sent again), a different or unknown staging dir is wiped. Every file is then verified on the
    host; the list of files is written and verified, then the final marker, verified too, and
    the staging dir replaces a stale final dir that Lockstep made. A complete release is verified
    again before it is reused.
    """
    _check_release(release)
    paths = {_check_file_path(rel): data for rel, data in files.items()}
    digests = {rel: _sha256(data) for rel, data in paths.items()}
    final = release_dir(dest, release)
    final_marker = f"{content_hash}\n".encode()
    listed = _file_list(digests)
    # Also complete: a marker holding the list after the hash (a development version wrote it).
    complete = {_sha256(final_marker), _sha256(final_marker + (listed or b""))}
    check_layout(conn, dest, release)  # also refuses a releases/<release> Lockstep did not stage
    final_kind = conn.kind(final)
    live = current_release(conn, dest)
    if conn.file_sha256(f"{final}/{MARKER}") in complete:
        if live == release:
            return False  # live: verified before its marker; its deploy commands may edit it since
        try:
            verify_tree(conn, final, paths, digests)
            return False
        except DeploymentStepFailed:
            pass  # damaged since it was staged: stage it again (refused below if it is live)

    if live == release and final_kind is not None:
        # A live release holding other content: replacing it would pull files from under the
        # running service and leave nothing to roll back to.
        raise DeploymentStepFailed(
            f"{conn.name}: release {release} is live in {dest} with different content; refusing to "
            "replace it (is another component or environment delivering to the same dest?)"
        )
    staging = f"{releases_root(dest)}/{STAGING_PREFIX}{release}"
    staging_marker = f"staging {content_hash}\n".encode()
    state = conn.file_sha256(f"{staging}/{MARKER}")
    if state != _sha256(final_marker):  # staging complete already: only the rename is left
        if state != _sha256(staging_marker):
            conn.remove(staging)
            conn.ensure_dir(staging)
            conn.write_file(f"{staging}/{MARKER}", staging_marker)
        made = {staging}
        present = conn.tree_sha256(staging)  # one pass: what an interrupted upload already sent
        for rel, data in sorted(paths.items()):
            if present.get(rel) == digests[rel]:
                continue
            path = f"{staging}/{rel}"
            parent = posixpath.dirname(path)
            if parent not in made:
                conn.ensure_dir(parent)
                made.add(parent)
            conn.write_file(path, data, mode=file_mode(data))
        verify_tree(conn, staging, paths, digests)
        if listed is None:
            conn.remove(f"{staging}/{FILES_LIST}")  # (none is written for a list past the bound)
        else:
            _write_verified(conn, f"{staging}/{FILES_LIST}", listed, "the list of files")
        _write_verified(conn, f"{staging}/{MARKER}", final_marker, "the marker")
    if final_kind is not None:
        _discard(conn, dest, final)  # Lockstep's own stale, damaged or superseded copy, not live
    conn.rename(staging, final)
    return True


def release_files(conn: HostConnection, dest: str, release: str) -> dict[str, str] | None:
    """The files Lockstep staged in `releases/<release>`, path -> sha256 as staged, from its
    `.lockstep-files` (or a marker holding the list after its hash); None when there is no list
    (an older release, or a list past the bound), or it is larger than `MAX_LIST_BYTES` or cannot
    be read as one."""
    folder = release_dir(dest, release)
    for path, skip in ((f"{folder}/{FILES_LIST}", 0), (f"{folder}/{MARKER}", 1)):
        size = conn.file_size(path)
        if size is None:
            continue
        if size > MAX_LIST_BYTES + 4096:
            return None
        return _parse_list((conn.read_file(path) or b""), skip)
    return None


def _parse_list(data: bytes, skip: int) -> dict[str, str] | None:
    """The list after `skip` lines (the hash, in a marker holding one): `files <n>`, then
    `<sha256> <JSON path>` per file; None unless it reads whole."""
    try:
        lines = data.decode("utf-8").splitlines()[skip:]
        if not lines or not lines[0].startswith("files "):
            return None
        count = int(lines[0].removeprefix("files "))
        files: dict[str, str] = {}
        for line in lines[1:]:
            sha, quoted = line.split(" ", 1)
            path = json.loads(quoted)
            if len(sha) != 64 or not isinstance(path, str):
                return None
            files[path] = sha
    except ValueError:  # UnicodeDecodeError and JSONDecodeError too
        return None
    return files if len(files) == count else None


def _file_list(digests: Mapping[str, str]) -> bytes | None:
    """The `.lockstep-files` of a release (module docstring); None past `MAX_LIST_BYTES`."""
    listed = "".join(f"{digests[rel]} {json.dumps(rel)}\n" for rel in sorted(digests))
    data = f"files {len(digests)}\n{listed}".encode()
    return data if len(data) <= MAX_LIST_BYTES else None


def _write_verified(conn: HostConnection, path: str, data: bytes, what: str) -> None:
    conn.write_file(path, data)
    if conn.file_sha256(path) != _sha256(data):
        raise DeploymentStepFailed(f"{conn.name}: {what} {path} did not arrive whole")


def file_mode(data: bytes) -> int:
    """0o755 for scripts (content starting with `#!`), else 0o644."""
    return 0o755 if data.startswith(b"#!") else 0o644


def remember_release(conn: HostConnection, dest: str, release: str) -> None:
    """Record `release` as the newest in `.lockstep-history` (moved to the end if listed).

    Called before the release is staged, so every release folder Lockstep puts in place is in
    its history: listing a release that is not there yet is harmless (pruning skips it).
    """
    _check_release(release)
    history = _read_history(conn, dest)
    if history and history[-1] == release:
        return
    _write_history(conn, dest, [r for r in history if r != release] + [release])


def switch_current(conn: HostConnection, dest: str, release: str) -> str | None:
    """Point `current` at `releases/<release>` atomically; return what it held before (as
    `current_release` gives it).

    Returns `release` itself when it is already current. Refuses (DeploymentStepFailed) to point
    at a release that is not completely staged, so `current` never leads to a missing folder,
    and (LayoutRefused) to replace a `current` that is not a symlink.
    """
    _check_release(release)
    previous = current_release(conn, dest)
    if previous == release:
        return release
    if not conn.exists(f"{release_dir(dest, release)}/{MARKER}"):
        raise DeploymentStepFailed(f"{conn.name}: release {release} is not staged in {dest}/releases")
    conn.replace_symlink(current_link(dest), f"releases/{release}")
    return previous


def rollback_release(conn: HostConnection, *, dest: str, previous: str | None) -> bool:
    """Put `current` back exactly as it was recorded before the deployment (see
    `current_release`): on a Lockstep release, on a foreign link's own target, or removed when
    there was none. Only a symlink is ever removed or replaced.

    Returns whether anything changed, so a repeated rollback reports nothing to do.
    """
    link = current_link(dest)
    if conn.kind(link) not in (None, "link"):
        raise LayoutRefused(
            f"{conn.name}: {link} is no longer a symlink; Lockstep will not replace or delete it"
        )
    if previous is None:
        if conn.kind(link) is None:
            return False
        conn.remove(link)
        return True
    if previous.startswith(FOREIGN_LINK):
        target = previous.removeprefix(FOREIGN_LINK)
        if conn.readlink(link, verbatim=True) == target:
            return False
        conn.replace_symlink(link, target, verbatim=True)
        return True
    name = release_name(previous)
    assert name is not None
    return switch_current(conn, dest, name) != name


def prune_releases(conn: HostConnection, dest: str, keep: int, protect: Iterable[str | None]) -> list[str]:
    """Remove all but the newest `keep` of Lockstep's releases; never those in `protect`, nor
    the one `current` points at, nor anything Lockstep did not stage (see `owned_entries`).

    Age comes from `.lockstep-history`. Returns the removed names.
    """
    if keep < 0:
        raise ValueError(f"keep must be >= 0, not {keep}")
    if conn.kind(releases_root(dest)) != "dir":
        return []  # absent, or not Lockstep's (a symlink): nothing to prune there
    history = _read_history(conn, dest)
    owned = owned_entries(conn, dest, history)
    spared = set(owned[max(0, len(owned) - keep) :] if keep else [])
    spared |= {p for p in protect if p}
    live = release_name(current_release(conn, dest))
    if live is not None:
        spared.add(live)
    removed = [r for r in owned if r not in spared]
    for name in removed:
        _discard(conn, dest, release_dir(dest, name))
    on_disk = set(conn.list_dir(releases_root(dest)))
    for leftover in sorted(on_disk):  # Lockstep's reserved names: uploads and deletions cut short
        staged_for = leftover.removeprefix(STAGING_PREFIX)
        if leftover.startswith(TRASH_PREFIX) or (
            leftover.startswith(STAGING_PREFIX) and staged_for not in spared
        ):
            conn.remove(f"{releases_root(dest)}/{leftover}")
    remaining = [r for r in history if r not in removed and (r in on_disk or r in spared)]
    if remaining != history:
        _write_history(conn, dest, remaining)
    return removed


def _discard(conn: HostConnection, dest: str, folder: str) -> None:
    """Delete one of Lockstep's folders so that a deletion cut short (a dropped connection, a
    crash) never leaves a half-release with no marker: rename it aside first, atomically."""
    trash = f"{releases_root(dest)}/{TRASH_PREFIX}{posixpath.basename(folder)}-{uuid.uuid4().hex[:8]}"
    conn.rename(folder, trash)
    conn.remove(trash)


def _read_history(conn: HostConnection, dest: str) -> list[str]:
    raw = conn.read_file(f"{releases_root(dest)}/{HISTORY}") or b""
    return [line.strip() for line in raw.decode("utf-8", errors="replace").splitlines() if line.strip()]


def _write_history(conn: HostConnection, dest: str, releases: list[str]) -> None:
    path = f"{releases_root(dest)}/{HISTORY}"
    conn.ensure_dir(posixpath.dirname(path))
    data = "".join(f"{r}\n" for r in releases).encode()
    conn.write_file(f"{path}.tmp", data)
    if conn.file_sha256(f"{path}.tmp") != _sha256(data):
        raise DeploymentStepFailed(f"{conn.name}: {path} did not arrive whole")
    conn.rename(f"{path}.tmp", path)  # a crash never leaves a torn history


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_release(release: str) -> None:
    if not release or release.startswith(".") or "/" in release or "\n" in release or ":" in release:
        raise ValueError(f"invalid release name {release!r}: no '/' or ':', no leading '.', not empty")


def release_file_path(rel: str) -> str:
    """A release file's path as `stage_release` writes it under the release folder (`./a//b` is
    `a/b`); ValueError for one outside the release."""
    return _check_file_path(rel)


def _check_file_path(rel: str) -> str:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or rel.startswith("/") or ".." in parts or parts in ([MARKER], [FILES_LIST], [WRITTEN_LIST]):
        raise ValueError(f"invalid release file path {rel!r}: must be relative, inside the release")
    return "/".join(parts)
