"""Drift items from what the deliverers report: one item per difference between a component's
live state and its last deployed revision.

A change set compares the live revision (desired) with live: `configured` is `modified`,
`created` (Lockstep's thing is not there) is `missing`, `deleted` (there, but not in the live
revision: a file listed in a host release that the revision lacks, an object Lockstep created
that the revision dropped) is `unexpected`. A Kubernetes object that differs gives one item per
field (`path` is the field path, `object` is `Kind/namespace/name`); a host file gives one item
with `path` the file as the manifest maps it (`<dest>/<file>`), `host` the host's label. A
host's `<dest>/current` that is gone is `missing`, one pointing somewhere Lockstep did not make or
at another release than one that holds the revision's files (`<commit>`, or a fresh
`<commit>.<id>` a later delivery of it staged) is `modified` on `<dest>/current`.

Deliberately does not: look at targets, decide, or store (`lockstep.drift.sweep`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lockstep.delivery.host_live import HostLive
from lockstep.domain.changes import ChangeAction, ChangeSet
from lockstep.domain.drift import DriftKind
from lockstep.targets.release_layout import base, of_commit

KINDS: dict[ChangeAction, DriftKind] = {
    ChangeAction.CONFIGURED: "modified",
    ChangeAction.CREATED: "missing",
    ChangeAction.DELETED: "unexpected",
}


@dataclass(frozen=True)
class Difference:
    """One difference, before it is dated and decided."""

    kind: DriftKind
    host: str = ""
    object: str = ""
    path: str = ""


def differences(kind: str, change_sets: Sequence[ChangeSet], live: object, commit: str) -> list[Difference]:
    """Every difference the change sets report (unreachable locations aside), and for hosts what
    `current` holds (module docstring)."""
    found: list[Difference] = []
    for change_set in change_sets:
        if change_set.unreachable is not None:
            continue
        for change in change_set.changes:
            drift_kind = KINDS.get(change.action)
            if drift_kind is None:
                continue
            if kind == "kubernetes":
                found.extend(_object_fields(drift_kind, change.subject, change.summary))
            else:
                found.append(Difference(kind=drift_kind, host=change_set.location, path=change.subject))
    if isinstance(live, HostLive):
        found.extend(_currents(live, change_sets, commit))
    return found


def unreachable(change_sets: Sequence[ChangeSet], target: str) -> list[str]:
    """Why each location that could not be read could not be (`<location>: <reason>`)."""
    return [f"{c.location or target}: {c.unreachable}" for c in change_sets if c.unreachable is not None]


def _object_fields(kind: DriftKind, subject: str, summary: str) -> Iterator[Difference]:
    if kind != "modified":
        yield Difference(kind=kind, object=subject)
        return
    fields = summary.split(" (compared with the manifest", 1)[0]
    names = [f.strip() for f in fields.split(", ") if f.strip()]
    for name in names or [""]:
        yield Difference(kind=kind, object=subject, path=name)


def _currents(live: HostLive, change_sets: Sequence[ChangeSet], commit: str) -> Iterator[Difference]:
    changed_hosts = {c.location: c for c in change_sets if c.unreachable is None}
    for state in live.hosts:
        if state.unreachable is not None:
            continue
        for tree in state.trees:
            path = f"{base(tree.dest).rstrip('/')}/current"
            if tree.current is None:
                yield Difference(kind="missing", host=state.host, path=path)
            elif tree.release is None or (
                not of_commit(tree.release, commit) and _tree_changed(changed_hosts, state.host, tree.dest)
            ):
                yield Difference(kind="modified", host=state.host, path=path)


def _tree_changed(change_sets: dict[str, ChangeSet], host: str, dest: str) -> bool:
    found = change_sets.get(host)
    prefix = f"{base(dest).rstrip('/')}/"
    return found is not None and any(
        c.action != ChangeAction.UNCHANGED and c.subject.startswith(prefix) for c in found.changes
    )
