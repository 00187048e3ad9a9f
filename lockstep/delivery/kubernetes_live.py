"""What a `kubernetes` component's objects look like on the cluster, and what applying it would
change.

`observe_kubernetes` reads, per object of the component, the live object (a GET, or from a
listing a sweep shares: `lockstep.delivery.kube_listings`) and what a server-side
apply under field manager `lockstep` would leave (`dryRun=All`: the API server's admission and
defaulting run, nothing is stored), the object marked as Lockstep's as a deployment applies it
(`lockstep.delivery.kube_owner`). Where the server refuses the dry run (an admission webhook
with side effects, an API that does not offer it) the object is compared with the marked manifest
itself instead. With `dry_runs="differing"` (what a drift sweep and a plan without `--diff`
ask for: they count changes and show none) the dry run is asked only for the objects whose live
fields differ from the marked manifest's: an object that matches its manifest field by field is
`unchanged` (applying it leaves those fields as they are), one not on the cluster is `created`,
and only the rest — the few a sweep reports — cost a second request. It also looks at the
objects the component's live revision applied that are Lockstep's but that the component no
longer has (`previous_refs`, from the inventory), and sorts them as a deployment's pruning would
(`lockstep.delivery.kube_prune`): deleted, or kept and why. Given `find_claimed` (a sweep), it
also finds the objects in the kinds and namespaces of its own that carry the component's owner
mark but that none of its revisions applied (someone copied one, say): `unclaimed`.

`diff_kubernetes` turns that into one change set for the cluster (location ""), per object
`Kind/namespace/name`: `created` (not on the cluster), `configured` (the summary names the
fields that differ, compared over the fields the manifest sets: `lockstep.delivery.kube_fields`),
`unchanged`, `deleted` (left behind and pruned, see above), or `unchanged` with
`not pruned (…)` (left behind, kept); an unclaimed object is `deleted` with a summary saying it
is never pruned (drift calls it `unexpected`). A Secret's values are never shown: `***` in every diff. A
cluster that cannot be reached or read is one change set with `unreachable` and the reason, never
an error.

Deliberately does not: apply or delete anything, nor know the store (the deliverer hands over
`previous_refs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from lockstep.delivery import kube_prune
from lockstep.delivery.kube_fields import changed_fields, masked, owned, projected, yaml_diff
from lockstep.delivery.kube_listings import LiveRead, Unclaimed
from lockstep.delivery.kube_owner import marked, owner_of
from lockstep.domain.changes import Change, ChangeAction, ChangeSet
from lockstep.domain.errors import LockstepError
from lockstep.domain.kube_objects import KubeObject, ObjectRef
from lockstep.domain.kube_scope import NamespaceLimits
from lockstep.domain.models import RenderedComponent
from lockstep.settings import KubernetesTargetSettings
from lockstep.targets.kubernetes import (
    KubernetesApiError,
    KubernetesCluster,
    UnservedKind,
    connect_kubernetes,
)

REQUEST_TIMEOUT = 10.0  # seconds per API request while looking: a preview should not hang
DryRuns = Literal["every", "differing"]  # which objects get a dry-run apply (module docstring)
LEFT_BEHIND = "no longer in the component's manifests (created by Lockstep)"
KEPT = "no longer in the component's manifests; not pruned"
UNCLAIMED = "marked as the component's but applied by none of its revisions; never pruned"


@dataclass(frozen=True)
class ObservedObject:
    """One object of the component as the cluster has it, and as applying it would leave it."""

    key: tuple[str, str, str, str]  # the manifest's own (apiVersion, kind, namespace, name)
    ref: ObjectRef  # with the namespace the cluster's discovery gives it
    desired: KubeObject  # the manifest, its namespace defaulted as it is applied
    live: KubeObject | None  # None: not on the cluster
    would_be: KubeObject | None  # the dry run's answer; None: compare with `desired`
    dry_run_refused: str | None = None  # the server's answer to the dry run it refused
    matches: bool = False  # live has every field as the manifest sets it (no dry run was asked)


@dataclass(frozen=True)
class KubeLive:
    """A component's objects on one cluster (`unreachable`: could not look)."""

    objects: list[ObservedObject] = field(default_factory=list)
    left_behind: list[tuple[ObjectRef, KubeObject]] = field(default_factory=list)
    kept: list[kube_prune.Skipped] = field(default_factory=list)  # left behind, not pruned
    # Marked as the component's, in no revision it applied (a sweep only): never pruned.
    unclaimed: list[tuple[ObjectRef, KubeObject]] = field(default_factory=list)
    unreachable: str | None = None


def observe_kubernetes(
    target: KubernetesTargetSettings,
    component: RenderedComponent,
    *,
    previous_refs: Sequence[ObjectRef] = (),
    limits: NamespaceLimits | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
    dry_runs: DryRuns = "every",
    read_live: LiveRead | None = None,
    find_claimed: Unclaimed | None = None,
    history: Sequence[ObjectRef] = (),
) -> KubeLive:
    """Read the component's objects, their dry-run applies (every object's, or only those that
    differ from the manifest: `dry_runs`) and the objects in `previous_refs` (what the live
    revision applied that is Lockstep's) that the component no longer has, sorted as a
    deployment with the target's `limits` would prune them. `read_live` reads the component's
    own objects (default: a GET each)."""
    try:
        cluster = connect_kubernetes(target, request_timeout=request_timeout)
    except LockstepError as err:
        return KubeLive(unreachable=str(err))
    owner = owner_of(component)
    try:
        read = read_live or _get
        objects = [
            _observe(cluster, cast(KubeObject, obj), owner, dry_runs, read) for obj in component.objects
        ]
        found = kube_prune.candidates(
            previous_refs, [o.ref for o in objects], limits=limits, component=component.name
        )
        left: list[tuple[ObjectRef, KubeObject]] = []
        kept = list(found.skipped)
        for ref in found.delete:
            live = _live_or_gone(cluster, ref)
            reason = None if live is None else kube_prune.judge(live, owner)
            if live is not None and reason is None:
                left.append((ref, live))
            elif reason is not None:
                kept.append(kube_prune.Skipped(ref, reason))
        refs = [*(o.ref for o in objects), *previous_refs, *history, *(r for r, _ in left)]
        known = {ref.key for ref in [*refs, *(k.ref for k in kept)]}
        claimed = find_claimed(cluster, [o.ref for o in objects], owner) if find_claimed is not None else []
        unclaimed = [(ref, obj) for ref, obj in claimed if ref.key not in known]
    except LockstepError as err:
        return KubeLive(unreachable=str(err))
    finally:
        cluster.close()
    return KubeLive(objects=objects, left_behind=left, kept=kept, unclaimed=unclaimed)


def _live_or_gone(cluster: KubernetesCluster, ref: ObjectRef) -> KubeObject | None:
    """The live object; None when it is gone, or its kind is no longer served (as pruning does)."""
    try:
        return cluster.get(ref)
    except UnservedKind:
        return None


def _get(cluster: KubernetesCluster, ref: ObjectRef) -> KubeObject | None:
    return cluster.get(ref)


def _observe(
    cluster: KubernetesCluster, obj: KubeObject, owner: str, dry_runs: DryRuns, read: LiveRead
) -> ObservedObject:
    ref = cluster.ref(obj)
    desired = marked(obj, owner)  # as a deployment applies it: its marks are compared too
    if ref.namespace:
        desired["metadata"]["namespace"] = ref.namespace
    live = read(cluster, ref)
    if dry_runs == "differing" and (live is None or not _differs(desired, live)):
        return ObservedObject(_key(obj), ref, desired, live, None, matches=live is not None)
    try:
        return ObservedObject(_key(obj), ref, desired, live, cluster.dry_run_apply(desired))
    except KubernetesApiError as err:
        if err.status is None:
            raise
        return ObservedObject(_key(obj), ref, desired, live, None, f"HTTP {err.status}")


def _differs(desired: KubeObject, live: KubeObject) -> bool:
    """Whether `live` differs from the manifest on a field the manifest sets."""
    manifest = cast(dict[str, Any], desired)
    return bool(changed_fields(manifest, manifest, cast(dict[str, Any], live)))


def diff_kubernetes(desired: RenderedComponent, live: Any, *, with_diff: bool = False) -> list[ChangeSet]:
    """The cluster's change set for applying `desired`, from `live` (observed for `desired`)."""
    observed = cast(KubeLive, live)
    if observed.unreachable is not None:
        return [ChangeSet(location="", unreachable=observed.unreachable)]
    by_key = {o.key: o for o in observed.objects}
    changes: list[Change] = []
    for manifest in desired.objects:
        found = by_key.get(_key(cast(KubeObject, manifest)))
        if found is None:
            raise LockstepError(f"{desired.name}: {_key(cast(KubeObject, manifest))} was not observed")
        changes.append(_change(found, with_diff))
    for ref, left in observed.left_behind:
        shown = masked(owned(cast(dict[str, Any], left)))
        diff = yaml_diff(shown, {}, subject=str(ref)) if with_diff else ""
        changes.append(Change(subject=str(ref), action=ChangeAction.DELETED, summary=LEFT_BEHIND, diff=diff))
    for kept in observed.kept:
        summary = f"{KEPT} ({kept.reason})"
        changes.append(Change(subject=str(kept.ref), action=ChangeAction.UNCHANGED, summary=summary))
    for ref, _obj in observed.unclaimed:
        changes.append(Change(subject=str(ref), action=ChangeAction.DELETED, summary=UNCLAIMED))
    return [ChangeSet(location="", changes=changes)]


def _change(o: ObservedObject, with_diff: bool) -> Change:
    manifest = cast(dict[str, Any], o.desired)
    expected = cast(dict[str, Any], o.would_be if o.would_be is not None else o.desired)
    subject = str(o.ref)
    if o.live is None:
        diff = yaml_diff({}, masked(projected(expected, manifest)), subject=subject) if with_diff else ""
        return Change(subject=subject, action=ChangeAction.CREATED, diff=diff)
    if o.matches:
        return Change(subject=subject, action=ChangeAction.UNCHANGED)
    live = cast(dict[str, Any], o.live)
    fields = changed_fields(manifest, expected, live)
    if not fields:
        return Change(subject=subject, action=ChangeAction.UNCHANGED)
    summary = ", ".join(fields)
    if o.dry_run_refused is not None:
        summary += f" (compared with the manifest: dry run refused, {o.dry_run_refused})"
    before, after = projected(live, manifest), projected(expected, manifest)
    diff = yaml_diff(masked(before), masked(after, against=before), subject=subject) if with_diff else ""
    return Change(subject=subject, action=ChangeAction.CONFIGURED, summary=summary, diff=diff)


def _key(obj: KubeObject) -> tuple[str, str, str, str]:
    meta = obj.get("metadata", {})
    return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))
