"""What a `host` component's files look like on each host, and what applying it would change.

The live state of a host is, per release tree (`dest`), what `<dest>/current` holds (as the journal
records it: a release name, `link:<target>`, or None) and the sha256, as they are now on the host,
of the files of the Lockstep release it points at that are Lockstep's: those its `.lockstep-files`
lists as staged (`release_files`), and any desired file. A file a deploy command wrote into the
release folder (a `status`, a `migrated.txt`) is not Lockstep's: it is ignored, never reported,
as `.lockstep-written` lists it (`lockstep.targets.release_written`); any other file found there
was added afterwards, by hand: it is reported `deleted` (the next release will not hold it; drift
calls it `unexpected`). A release without that record is not searched for added files, and one
staged before releases carried the list is read whole (its every file but Lockstep's own).
Files are compared by content only: `stage_release` writes the rendered bytes verbatim and
derives a file's mode from its content (`#!` -> 0o755), so equal checksums mean equal files, modes included.

Subjects are `<dest>/<path>`, the file as the manifest maps it (`api/app.conf` with `dest:
/srv/api` is `/srv/api/app.conf`); on the host it is reached through `<dest>/current/<path>`.
Against the live release each desired file is `created` (not in it), `configured` (content differs,
on the list or not: a listed file edited by hand counts) or `unchanged`; a listed file still in the
live release that the component no longer has is `deleted` (the new release will not hold it). A
`current` that is absent or not a Lockstep release makes every desired file `created`. A host is
unchanged (`unchanged_release`) when every tree's `current` is a Lockstep release and no file of
any tree changes: `apply` then neither stages nor switches it (its deploy commands still run).

`observe_host` connects on its own (previews: `lockstep plan --diff`); `read_host` and
`host_changes` work over a connection the caller holds, so `apply` compares over the connection
it deploys with. Reading is bounded: checksums are computed on the host, and live content is
fetched only when a diff is to be shown (`with_content`), only for files that differ, at most
`MAX_DIFF_FILE_BYTES` each and `MAX_DIFF_HOST_BYTES` per host; a binary or larger file gets a
summary instead of a diff.

Deliberately does not change anything on a host, nor record steps (`lockstep.delivery.host`).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lockstep.domain.changes import Change, ChangeAction, ChangeSet
from lockstep.domain.errors import LockstepError
from lockstep.domain.models import ReleaseTree, RenderedComponent
from lockstep.targets.host import HostConnection, HostReach
from lockstep.targets.registry import TargetRegistry
from lockstep.targets.release_layout import base, is_owned_release, release_name
from lockstep.targets.release_written import MAX_WRITTEN_FILES, OWN_FILES, written_files
from lockstep.targets.releases import current_release, release_dir, release_file_path, release_files

MAX_DIFF_FILE_BYTES = 256 * 1024  # live content fetched per differing file, for a diff
MAX_DIFF_HOST_BYTES = 2 * 1024 * 1024  # live content fetched per host in all
_MAX_PARALLEL_HOSTS = 16


@dataclass(frozen=True)
class LiveFile:
    """One file of a live release: its checksum, and (fetched for a diff, when it differs from
    the desired file and fits the bounds) its size and content."""

    sha256: str
    size: int | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class LiveTree:
    """One `dest` on one host: what `current` holds and the files of the release it points at
    (none when it is absent or not a Lockstep release)."""

    dest: str
    current: str | None  # as `current_release` gives it
    files: Mapping[str, LiveFile] = field(default_factory=dict)  # release-relative path -> file

    @property
    def release(self) -> str | None:
        """The Lockstep release `current` points at, or None."""
        return release_name(self.current)


@dataclass(frozen=True)
class HostState:
    """One host of the target: its trees, or why it could not be looked at."""

    host: str
    trees: tuple[LiveTree, ...] = ()
    unreachable: str | None = None


@dataclass(frozen=True)
class HostLive:
    """The live state of a host component on every host of its target, in the target's order."""

    component: str
    hosts: tuple[HostState, ...] = ()


class _Budget:
    """Live bytes still to be fetched for diffs on one host."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, size: int) -> bool:
        if size > MAX_DIFF_FILE_BYTES or size > self.left:
            return False
        self.left -= size
        return True


def desired_files(tree: ReleaseTree) -> dict[str, bytes]:
    """The tree's files keyed by their path in the release, as `stage_release` writes them."""
    return {release_file_path(rel): data for rel, data in tree.files.items()}


def read_host(
    conn: HostConnection,
    component: RenderedComponent,
    recorded: Mapping[str, str | None] | None = None,
    *,
    fetch: bool = False,
) -> HostState:
    """The state of `component`'s trees on one host: the releases `recorded` names per dest (as
    the journal keeps a prior), else what each `current` holds now. `fetch` also reads the live
    content of files that differ from the desired ones, within the bounds (for diffs).
    Raises what the connection raises (LayoutRefused for a `current` that is not a symlink)."""
    budget = _Budget(MAX_DIFF_HOST_BYTES if fetch else 0)
    trees = []
    for tree in component.releases:
        held = recorded[tree.dest] if recorded is not None else current_release(conn, tree.dest)
        trees.append(_read_tree(conn, tree, held, budget if fetch else None))
    return HostState(host=conn.name, trees=tuple(trees))


def read_release(conn: HostConnection, tree: ReleaseTree, release: str) -> LiveTree:
    """One tree's files as the release `release` holds them (none when it is not Lockstep's)."""
    return _read_tree(conn, tree, release, None)


def tree_matches(tree: ReleaseTree, live: LiveTree) -> bool:
    """Whether a live tree holds exactly the tree's desired files (nothing added by hand)."""
    desired = {rel: _sha256(data) for rel, data in desired_files(tree).items()}
    return live.release is not None and {rel: f.sha256 for rel, f in live.files.items()} == desired


def _read_tree(conn: HostConnection, tree: ReleaseTree, held: str | None, budget: _Budget | None) -> LiveTree:
    name = release_name(held)
    if name is None or not is_owned_release(conn, tree.dest, name):
        return LiveTree(dest=tree.dest, current=held)
    folder = release_dir(tree.dest, name)
    desired = {rel: _sha256(data) for rel, data in desired_files(tree).items()}
    listed = release_files(conn, tree.dest, name)  # None: an older release, read whole
    if listed is None:  # an older release: read whole, nothing in it is told apart as added
        digests = {rel: sha for rel, sha in conn.tree_sha256(folder).items() if rel not in OWN_FILES}
    else:
        digests = _lockstep_files(conn, folder, set(listed) | set(desired))
    files: dict[str, LiveFile] = {}
    for rel, sha in sorted(digests.items()):
        if desired.get(rel) == sha:
            files[rel] = LiveFile(sha256=sha)
            continue
        size = conn.file_size(f"{folder}/{rel}")  # differs: its size is the summary's
        content = None
        if budget is not None and size is not None and budget.take(size):
            content = conn.read_file(f"{folder}/{rel}")
        files[rel] = LiveFile(sha256=sha, size=size, content=content)
    return LiveTree(dest=tree.dest, current=held, files=files)


def _lockstep_files(conn: HostConnection, folder: str, known: set[str]) -> dict[str, str]:
    """The checksums of the `known` files (staged or desired) in a release, and of any file
    added at another time than while its deploy commands ran (`release_written`); without that
    record, or past its bound, only the known ones. Only names are listed: a file the commands
    wrote is never read."""
    written = written_files(conn, folder)
    names = conn.tree_files(folder, MAX_WRITTEN_FILES) if written is not None else None
    added = [] if written is None or names is None else [n for n in names if n not in known | written]
    return conn.files_sha256(folder, sorted(known | {n for n in added if n not in OWN_FILES}))


def host_changes(desired: RenderedComponent, state: HostState, *, with_diff: bool = False) -> ChangeSet:
    """What delivering `desired` onto this host changes, per file (module docstring)."""
    if state.unreachable is not None:
        return ChangeSet(location=state.host, unreachable=state.unreachable)
    live_by_dest = {t.dest: t for t in state.trees}
    changes: list[Change] = []
    for tree in desired.releases:
        live = live_by_dest.get(tree.dest, LiveTree(dest=tree.dest, current=None))
        wanted = desired_files(tree)
        for rel in sorted(set(wanted) | set(live.files)):
            changes.append(_change(tree.dest, rel, wanted.get(rel), live.files.get(rel), with_diff))
    return ChangeSet(location=state.host, changes=changes)


def unchanged_release(state: HostState, changes: ChangeSet) -> bool:
    """Whether the host needs nothing: every tree on a Lockstep release, no file changed."""
    return (
        state.unreachable is None and all(t.release is not None for t in state.trees) and not changes.changed
    )


def observe_host(
    targets: TargetRegistry, component: RenderedComponent, *, with_content: bool = False
) -> HostLive:
    """Every host of the component's target, each on its own: a host that cannot be reached,
    or whose dest cannot be read, is an entry saying why. `with_content` also fetches the live
    content of differing files (for diffs; counts need checksums only). Connections are closed
    here."""
    reaches = targets.connect_each(component.target_name)

    def look(reach: HostReach) -> HostState:
        conn = reach.connection
        if conn is None:
            return HostState(host=reach.name, unreachable=_why(reach.name, reach.error))
        try:
            return read_host(conn, component, fetch=with_content)
        except (LockstepError, OSError) as err:
            return HostState(host=reach.name, unreachable=_why(reach.name, err))
        finally:
            conn.close()

    if len(reaches) <= 1:
        states = [look(r) for r in reaches]
    else:
        with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL_HOSTS, len(reaches))) as pool:
            states = list(pool.map(look, reaches))
    return HostLive(component=component.name, hosts=tuple(states))


def diff_host(desired: RenderedComponent, live: HostLive, *, with_diff: bool = False) -> list[ChangeSet]:
    """One change set per host of `live`; `with_diff` fills each change's unified diff."""
    return [host_changes(desired, state, with_diff=with_diff) for state in live.hosts]


def _change(dest: str, rel: str, want: bytes | None, have: LiveFile | None, with_diff: bool) -> Change:
    subject = f"{base(dest).rstrip('/')}/{rel}"
    if have is None:
        assert want is not None
        action, summary = ChangeAction.CREATED, _size(want)
    elif want is None:
        action = ChangeAction.DELETED
        summary = _size(have.content) if have.content is not None else _bytes(have.size)
    elif have.sha256 == _sha256(want):
        return Change(subject=subject, action=ChangeAction.UNCHANGED)
    else:
        action, summary = ChangeAction.CONFIGURED, _resized(have, want)
    diff = _diff(subject, have, want) if with_diff else ""
    return Change(subject=subject, action=action, summary=summary, diff=diff)


def _diff(subject: str, have: LiveFile | None, want: bytes | None) -> str:
    """A unified diff from the live file to the desired one, or a note why there is none."""
    before = b"" if have is None else have.content
    after = b"" if want is None else want
    if before is None:
        return f"(live content not shown: {_bytes(have.size if have else None) or 'size unknown'})"
    if len(after) > MAX_DIFF_FILE_BYTES:
        return f"(not shown: {len(after)} bytes, more than {MAX_DIFF_FILE_BYTES})"
    old, new = _text(before), _text(after)
    if old is None or new is None:
        return f"(binary file: {len(before)} -> {len(after)} bytes)"
    path = subject.lstrip("/")
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"live/{path}", f"desired/{path}"
    )
    return "".join(
        line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines
    )


def _resized(have: LiveFile, want: bytes) -> str:
    old, new = _text(have.content) if have.content is not None else None, _text(want)
    if old is not None and new is not None:
        return f"{_lines(old)} → {_lines(new)} lines"
    return f"{have.size if have.size is not None else '?'} → {len(want)} bytes"


def _size(data: bytes) -> str:
    text = _text(data)
    return f"{_lines(text)} lines" if text is not None else f"{len(data)} bytes"


def _bytes(size: int | None) -> str:
    return f"{size} bytes" if size is not None else ""


def _lines(text: str) -> int:
    return len(text.splitlines())


def _text(data: bytes | None) -> str | None:
    if data is None or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _why(host: str, err: BaseException | None) -> str:
    text = str(err) if err is not None else "not connected"
    return text.removeprefix(f"{host}: ") or type(err).__name__
