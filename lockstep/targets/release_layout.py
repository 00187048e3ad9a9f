"""What Lockstep owns under a host component's `dest`, and the checks that keep it to that.

Lockstep may create, replace or delete only these, and nothing else under `dest`:

    <dest>/releases                      a real folder (never a symlink) that it creates if absent
    <dest>/releases/<release>/           a folder holding the `.lockstep-release` marker AND listed
                                         in `.lockstep-history`: a release Lockstep staged
    <dest>/releases/.staging-<release>/  an upload in progress
    <dest>/releases/.lockstep-history    the release names, oldest first
    <dest>/releases/.trash-*             a folder of its own renamed aside, then deleted (a
                                         deletion cut short never leaves a half-release)
    <dest>/current                       a symlink; what it pointed at before a deployment (a
                                         Lockstep release, or any other link target) is recorded
                                         and restored exactly on rollback

A `current` that is a real folder or file, a `releases` that is a symlink or a file, and a
`releases/<release>` Lockstep did not stage are refused before anything on any host changes,
naming the host and the path: they hold someone's data.

The state of `current` before a deployment is kept as one string (the journal's prior release):
a release name (a commit sha), `link:<target>` for a link Lockstep did not make (restored as
that exact target, with no deploy commands), or None when there was no `current`.

This module owns no connection; `lockstep.targets.releases` builds the release logic on it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence

from lockstep.domain.errors import DeploymentStepFailed
from lockstep.targets.host import HostConnection

MARKER = ".lockstep-release"
FILES_LIST = ".lockstep-files"  # in a release: the files Lockstep staged there (`releases.release_files`)
# In a release: the files its deploy commands wrote there (`lockstep.targets.release_written`).
WRITTEN_LIST = ".lockstep-written"
HISTORY = ".lockstep-history"
STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".trash-"  # a folder of Lockstep's renamed aside, being deleted
FOREIGN_LINK = "link:"  # prefix of a recorded `current` that pointed somewhere Lockstep did not make


class LayoutRefused(DeploymentStepFailed):
    """Something under `dest` is not Lockstep's to replace or delete. Retrying cannot help."""


def base(dest: str) -> str:
    """`dest` without trailing slashes (`/` stays `/`)."""
    return dest.rstrip("/") or "/"


def releases_root(dest: str) -> str:
    return f"{base(dest).rstrip('/')}/releases"


def current_link(dest: str) -> str:
    return f"{base(dest).rstrip('/')}/current"


def release_dir(dest: str, release: str) -> str:
    return f"{releases_root(dest)}/{release}"


def of_commit(release: str, commit: str) -> bool:
    """Whether a release holds `commit`: `releases/<commit>`, or a fresh `<commit>.<id>` staged
    beside a copy of it that was edited by hand (`lockstep.delivery.host`)."""
    return release == commit or release.startswith(f"{commit}.")


def commit_of(release: str) -> str:
    """The commit a release holds (its name without a `.<id>` suffix)."""
    return release.split(".", 1)[0]


def release_name(prior: str | None) -> str | None:
    """The Lockstep release a recorded prior names, or None (no `current`, or a foreign link)."""
    if prior is None or prior.startswith(FOREIGN_LINK):
        return None
    return prior


def check_layout(conn: HostConnection, dest: str, release: str | None = None) -> None:
    """Refuse (LayoutRefused, naming host and path) a `dest` whose `releases` or `current` is not
    what Lockstep makes. Reads only; call it on every host before changing any."""
    problems = layout_problems(conn, dest, release)
    if problems:
        raise LayoutRefused("; ".join(problems))


def layout_problems(conn: HostConnection, dest: str, release: str | None = None) -> list[str]:
    """Everything under `dest` that Lockstep would have to replace but does not own; with
    `release`, also a `releases/<release>` it did not stage."""
    host = conn.name
    kind = conn.kind(base(dest))
    if kind not in (None, "dir", "link"):
        return [f"{host}: {base(dest)} is a {_noun(kind)}, not a folder; it cannot be a dest"]
    problems = []
    releases = conn.kind(releases_root(dest))
    if releases == "link":
        problems.append(
            f"{host}: {releases_root(dest)} is a symlink; Lockstep writes and prunes releases only in "
            "a real folder it created, so it will not follow it (replace the link with a folder)"
        )
    elif releases not in (None, "dir"):
        problems.append(f"{host}: {releases_root(dest)} is a {_noun(releases)}, not a folder")
    if release is not None and releases == "dir":
        final = release_dir(dest, release)
        if conn.kind(final) is not None and not is_owned_release(conn, dest, release):
            problems.append(f"{host}: {final} exists but Lockstep did not stage it (no {MARKER})")
    current = conn.kind(current_link(dest))
    if current not in (None, "link"):
        problems.append(
            f"{host}: {current_link(dest)} is a {_noun(current)}, not a symlink; it may hold an "
            "application's data, so Lockstep will neither replace nor delete it (move it aside, "
            "e.g. into a shared folder outside the dest, then deploy again)"
        )
    return problems


def live_current(conn: HostConnection, dest: str) -> str | None:
    """What `current` holds now, as the journal records it (see the module docstring).

    Raises LayoutRefused when `current` is not a symlink.
    """
    link = current_link(dest)
    target = conn.readlink(link)
    if target is None:
        if conn.kind(link) is None:
            return None
        raise LayoutRefused("; ".join(layout_problems(conn, dest)) or f"{conn.name}: {link} is not a symlink")
    name = _release_pointed_at(dest, target)
    if name is not None and is_owned_release(conn, dest, name):
        return name
    return f"{FOREIGN_LINK}{conn.readlink(link, verbatim=True) or target}"  # restored byte for byte


def is_owned_release(conn: HostConnection, dest: str, name: str) -> bool:
    """Whether `releases/<name>` is a real folder carrying Lockstep's marker as a regular file."""
    folder = release_dir(dest, name)
    return conn.kind(folder) == "dir" and conn.kind(f"{folder}/{MARKER}") == "file"


def verify_tree(
    conn: HostConnection, folder: str, files: Mapping[str, bytes], digests: Mapping[str, str]
) -> None:
    """Check that every file of `files` arrived under `folder` whole: same size and sha256.

    `digests` maps each relative path to its expected hex sha256. Raises DeploymentStepFailed
    naming the host, every damaged path (up to five) and how it differs.
    """
    found = conn.tree_sha256(folder)
    damaged: list[str] = []
    for rel in sorted(files):
        got = found.get(rel)
        if got == digests[rel]:
            continue
        if got is None:
            damaged.append(f"{folder}/{rel} is missing")
        else:
            size = conn.file_size(f"{folder}/{rel}")
            damaged.append(
                f"{folder}/{rel} arrived with {size if size is not None else '?'} of "
                f"{len(files[rel])} bytes and a different sha256"
            )
    if damaged:
        more = f" (and {len(damaged) - 5} more)" if len(damaged) > 5 else ""
        raise DeploymentStepFailed(
            f"{conn.name}: the upload did not arrive whole: {'; '.join(damaged[:5])}{more}"
            f"{free_space_hint(conn, folder)}"
        )


def free_space_hint(conn: HostConnection, path: str) -> str:
    """`; <n> KiB free on its filesystem (is the disk full?)`, or '' when it cannot be told."""
    free = conn.free_bytes(path)
    if free is None:
        return ""
    return f"; {free // 1024} KiB free on its filesystem (is the disk full?)"


def _release_pointed_at(dest: str, target: str) -> str | None:
    """The release name when `target` (as stored in `current`) is `releases/<name>` of `dest`."""
    landing = posixpath.normpath(target if target.startswith("/") else f"{base(dest)}/{target}")
    if posixpath.dirname(landing) != posixpath.normpath(releases_root(dest)):
        return None
    name = posixpath.basename(landing)
    return None if not name or name.startswith(".") else name


def _noun(kind: str | None) -> str:
    return {"file": "regular file", "dir": "folder", "link": "symlink"}.get(kind or "", "special file")


def owned_entries(conn: HostConnection, dest: str, history: Sequence[str]) -> list[str]:
    """Release folders under `releases` that Lockstep may prune: listed in its history AND
    carrying its marker. Anything else there (an operator's files, another tool's releases) is
    never touched."""
    on_disk = set(conn.list_dir(releases_root(dest)))
    return [name for name in history if name in on_disk and is_owned_release(conn, dest, name)]
