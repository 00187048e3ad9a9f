"""Pruning: which of the objects a component dropped Lockstep deletes, and deleting them.

A candidate is an object the component's live revision applied that the inventory says is
Lockstep's (`lockstep.store.inventory.previous_objects`: its latest record in this application,
environment and component says Lockstep created it, or found it carrying this component's owner
mark) and that the component no longer has. It is deleted only when every rule holds:

- its kind does not destroy data or other owners' objects when deleted (`KEPT_KINDS`:
  Namespace, CustomResourceDefinition, PersistentVolumeClaim, PersistentVolume are never pruned);
- it lies within the target's namespace limits (checked before anything is applied; a candidate
  outside them is skipped, never a failure);
- the live object carries the owner annotation naming exactly this application, environment and
  component (`lockstep.delivery.kube_owner`): one without it, or one another component or
  application took over, is left alone;
- it is deleted with the live `uid` and `resourceVersion` as preconditions, so an object replaced
  or changed since it was read is not deleted (it is read and judged again, up to three times).

A candidate whose kind the cluster no longer serves (a CRD removed, an apiVersion retired) is
treated as gone, with a warning. Every skipped object is named with its reason, as `unchanged`
in the change set (`not pruned (…)`), never silently ignored.

Deliberately does not: apply, wait for health, or write the journal (`lockstep.delivery.kubernetes`
does, and prunes only once the component is healthy, as Argo CD's PruneLast).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lockstep.delivery.kube_owner import OWNER_ANNOTATION, owner_on
from lockstep.domain.changes import Change, ChangeAction
from lockstep.domain.kube_objects import KubeObject, ObjectRef
from lockstep.domain.kube_scope import NamespaceLimits
from lockstep.targets.kubernetes import PreconditionFailed, UnservedKind

# (API group, kind) whose deletion destroys data or objects other owners made: never pruned.
KEPT_KINDS = frozenset(
    {
        ("", "Namespace"),
        ("", "PersistentVolumeClaim"),
        ("", "PersistentVolume"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    }
)
PRUNED = "no longer in the component (created by Lockstep)"
NOT_PRUNED = "no longer in the component; not pruned"
_TRIES = 3  # reads and deletes of one object whose preconditions keep failing


class PruneCluster(Protocol):
    def get(self, ref: ObjectRef) -> KubeObject | None: ...
    def delete(
        self, ref: ObjectRef, *, uid: str | None = None, resource_version: str | None = None
    ) -> bool: ...


@dataclass(frozen=True)
class Skipped:
    ref: ObjectRef
    reason: str


@dataclass(frozen=True)
class Candidates:
    """The objects a delivery may prune, and those it must not, known before it applies."""

    delete: list[ObjectRef] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class Pruned:
    deleted: list[ObjectRef] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    gone: list[Skipped] = field(default_factory=list)  # kinds the cluster no longer serves: warnings


def candidates(
    previous: Sequence[ObjectRef],
    applying: Sequence[ObjectRef],
    *,
    limits: NamespaceLimits | None,
    component: str,
) -> Candidates:
    """The objects of `previous` that `applying` no longer has (same group, kind, namespace and
    name: a new apiVersion is the same object), less those a kind or a namespace limit keeps."""
    keep = {ref.key for ref in applying}
    delete: list[ObjectRef] = []
    skipped: list[Skipped] = []
    for ref in previous:
        if ref.key in keep:
            continue
        refusal = limits.refusal(component, ref.kind, ref.namespace, ref.name) if limits else None
        if (ref.group, ref.kind) in KEPT_KINDS:
            skipped.append(Skipped(ref, f"kind kept: {ref.kind}"))
        elif refusal is not None:
            where = f"namespace {ref.namespace}" if ref.namespace else "cluster-scoped"
            skipped.append(Skipped(ref, f"outside the target's limits: {where}"))
        else:
            delete.append(ref)
    return Candidates(delete, skipped)


def judge(live: KubeObject, owner: str) -> str | None:
    """Why the live object is not this component's to delete, or None when it is."""
    found = owner_on(live)
    if found is None:
        return f"no {OWNER_ANNOTATION} annotation: not applied by this component"
    if found != owner:
        return f"{OWNER_ANNOTATION} names {found}"
    return None


def prune(
    cluster: PruneCluster, found: Candidates, owner: str, check: Callable[[], None] = lambda: None
) -> Pruned:
    """Delete each candidate the live object shows to be `owner`'s; `check` runs before each."""
    result = Pruned(skipped=list(found.skipped))
    for ref in found.delete:
        check()
        _prune_one(cluster, ref, owner, result)
    return result


def _prune_one(cluster: PruneCluster, ref: ObjectRef, owner: str, result: Pruned) -> None:
    for _ in range(_TRIES):
        try:
            live = cluster.get(ref)
        except UnservedKind as err:
            result.gone.append(Skipped(ref, f"treated as gone: {err}"))
            return
        if live is None:
            return
        reason = judge(live, owner)
        if reason is not None:
            result.skipped.append(Skipped(ref, reason))
            return
        meta = live.get("metadata", {})
        try:
            if cluster.delete(ref, uid=meta.get("uid"), resource_version=meta.get("resourceVersion")):
                result.deleted.append(ref)
            return
        except PreconditionFailed:
            continue  # replaced or changed since it was read: read and judge it again
    result.skipped.append(Skipped(ref, f"changed on the cluster while being pruned ({_TRIES} reads)"))


def changes(pruned: Pruned) -> list[Change]:
    """Deleted objects as `deleted`, skipped ones as `unchanged` naming why they were kept."""
    return [
        *(Change(subject=str(r), action=ChangeAction.DELETED, summary=PRUNED) for r in pruned.deleted),
        *(
            Change(subject=str(s.ref), action=ChangeAction.UNCHANGED, summary=f"{NOT_PRUNED} ({s.reason})")
            for s in pruned.skipped
        ),
    ]


def report(pruned: Pruned) -> list[str]:
    """Lines for the step output: what was deleted, kept and why, and the warnings."""
    return [
        *(f"deleted {ref}" for ref in pruned.deleted),
        *(f"not pruned {s.ref}: {s.reason}" for s in pruned.skipped),
        *(f"warning: {s.ref} {s.reason}" for s in pruned.gone),
    ]
