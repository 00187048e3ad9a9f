"""What a `kubernetes` component's objects look like on the cluster, and what applying it would
change.

`observe_kubernetes` reads, per object of the component, the live object and what a server-side
apply under field manager `lockstep` would leave (`dryRun=All`: the API server's admission and
defaulting run, nothing is stored). Where the server refuses the dry run (an admission webhook
with side effects, an API that does not offer it) the object is compared with the manifest
itself instead. It also reads the objects the component's live revision applied and Lockstep
created that the component no longer has (`previous_refs`, from the inventory).

`diff_kubernetes` turns that into one change set for the cluster (location ""), per object
`Kind/namespace/name`: `created` (not on the cluster), `configured` (the summary names the
fields that differ, compared over the fields the manifest sets: `lockstep.delivery.kube_fields`),
`unchanged`, or `deleted` (left behind, see above). A cluster that cannot be reached or read is
one change set with `unreachable` and the reason, never an error.

Deliberately does not: apply or delete anything, nor know the store (the deliverer hands over
`previous_refs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from lockstep.delivery.kube_fields import changed_fields, owned, projected, yaml_diff
from lockstep.domain.changes import Change, ChangeAction, ChangeSet
from lockstep.domain.errors import LockstepError
from lockstep.domain.kube_objects import KubeObject, ObjectRef
from lockstep.domain.models import RenderedComponent
from lockstep.settings import KubernetesTargetSettings
from lockstep.targets.kubernetes import KubernetesApiError, KubernetesCluster, connect_kubernetes

REQUEST_TIMEOUT = 10.0  # seconds per API request while looking: a preview should not hang
LEFT_BEHIND = "no longer in the component's manifests (created by Lockstep)"


@dataclass(frozen=True)
class ObservedObject:
    """One object of the component as the cluster has it, and as applying it would leave it."""

    key: tuple[str, str, str, str]  # the manifest's own (apiVersion, kind, namespace, name)
    ref: ObjectRef  # with the namespace the cluster's discovery gives it
    desired: KubeObject  # the manifest, its namespace defaulted as it is applied
    live: KubeObject | None  # None: not on the cluster
    would_be: KubeObject | None  # the dry run's answer; None: compare with `desired`
    dry_run_refused: str | None = None  # the server's answer to the dry run it refused


@dataclass(frozen=True)
class KubeLive:
    """A component's objects on one cluster (`unreachable`: could not look)."""

    objects: list[ObservedObject] = field(default_factory=list)
    left_behind: list[tuple[ObjectRef, KubeObject]] = field(default_factory=list)
    unreachable: str | None = None


def observe_kubernetes(
    target: KubernetesTargetSettings,
    component: RenderedComponent,
    *,
    previous_refs: Sequence[ObjectRef] = (),
    request_timeout: float = REQUEST_TIMEOUT,
) -> KubeLive:
    """Read the component's objects, their dry-run applies and the objects in `previous_refs`
    (what the live revision applied and Lockstep created) that the component no longer has."""
    try:
        cluster = connect_kubernetes(target, request_timeout=request_timeout)
    except LockstepError as err:
        return KubeLive(unreachable=str(err))
    try:
        objects = [_observe(cluster, cast(KubeObject, obj)) for obj in component.objects]
        wanted = {o.ref.key for o in objects}
        left = [
            (ref, live)
            for ref in previous_refs
            if ref.key not in wanted and (live := cluster.get(ref)) is not None
        ]
    except LockstepError as err:
        return KubeLive(unreachable=str(err))
    finally:
        cluster.close()
    return KubeLive(objects=objects, left_behind=left)


def _observe(cluster: KubernetesCluster, obj: KubeObject) -> ObservedObject:
    ref = cluster.ref(obj)
    desired = cast(KubeObject, {**obj, "metadata": {**obj.get("metadata", {})}})
    if ref.namespace:
        desired["metadata"]["namespace"] = ref.namespace
    live = cluster.get(ref)
    try:
        return ObservedObject(_key(obj), ref, desired, live, cluster.dry_run_apply(obj))
    except KubernetesApiError as err:
        if err.status is None:
            raise
        return ObservedObject(_key(obj), ref, desired, live, None, f"HTTP {err.status}")


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
        diff = yaml_diff(owned(cast(dict[str, Any], left)), {}, subject=str(ref)) if with_diff else ""
        changes.append(Change(subject=str(ref), action=ChangeAction.DELETED, summary=LEFT_BEHIND, diff=diff))
    return [ChangeSet(location="", changes=changes)]


def _change(o: ObservedObject, with_diff: bool) -> Change:
    manifest = cast(dict[str, Any], o.desired)
    expected = cast(dict[str, Any], o.would_be if o.would_be is not None else o.desired)
    subject = str(o.ref)
    if o.live is None:
        diff = yaml_diff({}, projected(expected, manifest), subject=subject) if with_diff else ""
        return Change(subject=subject, action=ChangeAction.CREATED, diff=diff)
    live = cast(dict[str, Any], o.live)
    fields = changed_fields(manifest, expected, live)
    if not fields:
        return Change(subject=subject, action=ChangeAction.UNCHANGED)
    summary = ", ".join(fields)
    if o.dry_run_refused is not None:
        summary += f" (compared with the manifest: dry run refused, {o.dry_run_refused})"
    diff = (
        yaml_diff(projected(live, manifest), projected(expected, manifest), subject=subject)
        if with_diff
        else ""
    )
    return Change(subject=subject, action=ChangeAction.CONFIGURED, summary=summary, diff=diff)


def _key(obj: KubeObject) -> tuple[str, str, str, str]:
    meta = obj.get("metadata", {})
    return (obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))
