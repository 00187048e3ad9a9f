"""Delivering a `kubernetes` component: apply every rendered object, wait for health, roll back.

Deploy: check every object against the target's namespace limits (`namespaces`,
`cluster_scoped`), with the cluster's own word on which kinds are namespaced, and refuse the whole
component before anything is recorded or applied if one breaks them; record (write-ahead) which
objects this revision is about to apply and whether each existed already, server-side apply them
all, then poll their health until every one is healthy, one reaches a terminal failure, or the
component's health timeout passes — the error then names each unhealthy object and why. Progress
reads "objects healthy N/M"; cancellation is honoured between objects and between polls. Applying
is convergent, so a retried activity is harmless.

Rollback: check the objects of the revision that was live before (the caller renders that commit)
against the same limits, re-apply them, then delete the objects this deployment created that the
previous revision does not have. Objects that existed before but had no previous revision to
restore are left as they are.

Deliberately does not: talk to the API itself (`lockstep.targets.kubernetes`), judge health
(`lockstep.health.kubernetes`) or know the store's schema (`InventoryJournal`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from lockstep.domain.changes import Change, ChangeAction, ChangeSet
from lockstep.domain.errors import HealthCheckFailed, LockstepError, PlacementRefused
from lockstep.domain.kube_objects import KubeObject, ObjectRef
from lockstep.domain.kube_scope import NamespaceLimits
from lockstep.domain.models import RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.health.http import verify_http
from lockstep.health.kubernetes import Assessment, Health, assess
from lockstep.targets.kubernetes import Applied

Progress = Callable[[str], None]


class KubernetesCancelled(LockstepError):
    """Cancellation arrived between two objects or two health polls; the inventory has the rest."""


class Cluster(Protocol):
    def ref(self, obj: KubeObject) -> ObjectRef: ...
    def get(self, ref: ObjectRef) -> KubeObject | None: ...
    def apply(self, obj: KubeObject) -> Applied: ...
    def delete(self, ref: ObjectRef) -> bool: ...


class InventoryJournal(Protocol):
    def remember(self, entries: Sequence[tuple[ObjectRef, bool]]) -> dict[ObjectRef, bool]:
        """Write-ahead (ref, existed) per object; returns ref -> created as first recorded."""
        ...

    def applied(self, refs: Sequence[ObjectRef]) -> None: ...
    def entries(self) -> list[tuple[ObjectRef, bool]]: ...
    def step(
        self,
        action: str,
        status: str,
        output: str | None = None,
        *,
        attempt: int | None = None,
        obj: str = "",
    ) -> None:
        """The component's step (`obj` empty) or one object's (`obj` = `Kind/namespace/name`)."""
        ...


@dataclass
class KubernetesDelivery:
    component: RenderedComponent
    cluster: Cluster
    journal: InventoryJournal
    progress: Progress = lambda _msg: None
    cancelled: threading.Event | None = None
    attempt: int = 1
    clock: Callable[[], float] = field(default=time.monotonic)
    limits: NamespaceLimits | None = None  # the target's; None: no limits
    # Objects the live revision applied and Lockstep created: those the component no longer has
    # are deleted after the apply (pruned), as Flux and Argo CD's prune do. Rollback re-applies
    # the previous revision, which brings them back.
    prune: Sequence[ObjectRef] = ()


@dataclass(frozen=True)
class Outcome:
    """What a deploy or rollback did, object by object (a change set)."""

    objects: list[str]
    changed: bool
    detail: str
    changes: ChangeSet = field(default_factory=ChangeSet)


def deliver_kubernetes_component(d: KubernetesDelivery) -> Outcome:
    """Apply the component's objects and wait until they are healthy (HealthCheckFailed if not)."""
    objects = [cast(KubeObject, o) for o in d.component.objects]
    d.journal.step("deploy", StepStatus.RUNNING, attempt=d.attempt)
    try:
        refs = [d.cluster.ref(o) for o in objects]
        _check_limits(d, refs)  # before the inventory or the cluster is written to
        d.journal.remember([(ref, d.cluster.get(ref) is not None) for ref in refs])
        applied: list[Applied] = []
        for i, obj in enumerate(objects):
            _check(d)
            applied.append(d.cluster.apply(obj))
            d.journal.step("deploy", StepStatus.SUCCEEDED, applied[-1].action, obj=str(applied[-1].ref))
            d.progress(f"objects applied {i + 1}/{len(objects)}")
        d.journal.applied(refs)
        pruned = _prune(d, refs)
    except BaseException as err:
        d.journal.step("deploy", StepStatus.FAILED, _message(err))
        raise
    changes = _changeset(applied, pruned)
    d.journal.step("deploy", StepStatus.SUCCEEDED, changes)
    d.journal.step("health", StepStatus.RUNNING, attempt=d.attempt)
    try:
        report = wait_healthy(d, refs)
        http = verify_http(
            d.component.health,
            label=d.component.name,
            heartbeat=lambda msg: _progress_or_cancel(d, f"health: {msg}"),
            sleep=lambda seconds: _sleep(d, seconds),
            clock=d.clock,
        )
    except BaseException as err:
        d.journal.step("health", StepStatus.FAILED, _message(err))
        raise
    d.journal.step("health", StepStatus.SUCCEEDED, "\n".join(filter(None, [report, http])))
    return Outcome(
        [str(r) for r in refs],
        any(a.action != "unchanged" for a in applied) or bool(pruned),
        changes,
        ChangeSet(
            changes=[
                *(Change(subject=str(a.ref), action=ChangeAction(a.action)) for a in applied),
                *(Change(subject=str(r), action=ChangeAction.DELETED, summary=_PRUNED) for r in pruned),
            ]
        ),
    )


_PRUNED = "no longer in the component (created by Lockstep)"


def _prune(d: KubernetesDelivery, applied: Sequence[ObjectRef]) -> list[ObjectRef]:
    """Delete the objects of `d.prune` the component no longer has (matched by group, kind,
    namespace and name, so a new apiVersion is the same object); those that were there."""
    keep = {ref.key for ref in applied}
    gone = [ref for ref in d.prune if ref.key not in keep]
    _check_limits(d, gone)
    deleted: list[ObjectRef] = []
    for ref in gone:
        _check(d)
        if d.cluster.delete(ref):
            deleted.append(ref)
            d.journal.step("deploy", StepStatus.SUCCEEDED, f"deleted: {_PRUNED}", obj=str(ref))
    if deleted:
        d.progress(f"pruned {len(deleted)} objects")
    return deleted


def wait_healthy(d: KubernetesDelivery, refs: Sequence[ObjectRef]) -> str:
    """Poll until every object is healthy; HealthCheckFailed names the unhealthy ones."""
    health = d.component.health
    deadline = d.clock() + health.timeout_seconds
    while True:
        _check(d)
        found = [(ref, assess(d.cluster.get(ref))) for ref in refs]
        healthy = sum(1 for _, a in found if a.health == Health.HEALTHY)
        d.progress(f"objects healthy {healthy}/{len(refs)}")
        if healthy == len(refs):
            _record_health(d, found)
            return f"objects healthy {healthy}/{len(refs)}"
        failed = [(r, a) for r, a in found if a.health == Health.FAILED]
        if failed:
            _record_health(d, found)
            raise HealthCheckFailed(f"{d.component.name}: failed: {_unhealthy(failed)}")
        if d.clock() >= deadline:
            _record_health(d, found)
            waiting = [(r, a) for r, a in found if a.health != Health.HEALTHY]
            raise HealthCheckFailed(
                f"{d.component.name}: not healthy after {health.timeout_seconds:g}s "
                f"({healthy}/{len(refs)} healthy): {_unhealthy(waiting)}"
            )
        _sleep(d, health.interval_seconds)


def _sleep(d: KubernetesDelivery, seconds: float) -> None:
    if d.cancelled is not None and d.cancelled.wait(seconds):
        raise KubernetesCancelled(f"{d.component.name}: cancelled while waiting for health")
    if d.cancelled is None:
        time.sleep(seconds)


def _progress_or_cancel(d: KubernetesDelivery, message: str) -> None:
    _check(d)
    d.progress(message)


def rollback_kubernetes_component(
    d: KubernetesDelivery, previous: Sequence[dict[str, object]] | None
) -> Outcome:
    """Re-apply `previous` (the objects of the revision live before; None: there was none) and
    delete what this deployment created that `previous` does not have."""
    entries = d.journal.entries()
    if not entries:
        return Outcome([], False, "nothing was applied")
    d.journal.step("rollback", StepStatus.RUNNING, attempt=d.attempt)
    try:
        restoring = [cast(KubeObject, obj) for obj in previous or ()]
        _check_limits(d, [d.cluster.ref(obj) for obj in restoring])
        restored = [d.cluster.apply(obj) for obj in restoring]
        for a in restored:
            d.journal.step("rollback", StepStatus.SUCCEEDED, f"re-applied ({a.action})", obj=str(a.ref))
        keep = {a.ref.key for a in restored}
        deleted = [
            ref for ref, created in entries if created and ref.key not in keep and d.cluster.delete(ref)
        ]
        for ref in deleted:
            d.journal.step(
                "rollback", StepStatus.SUCCEEDED, "deleted (created by this deployment)", obj=str(ref)
            )
        d.progress(f"re-applied {len(restored)}, deleted {len(deleted)}")
    except BaseException as err:
        d.journal.step("rollback", StepStatus.FAILED, _message(err))
        raise
    left = [str(ref) for ref, created in entries if not created and previous is None]
    detail = (
        f"re-applied {len(restored)} objects of the previous revision, deleted {len(deleted)} created objects"
    )
    if deleted:
        detail += ": " + ", ".join(str(r) for r in deleted)
    if left:
        detail += f"; no previous revision to restore {', '.join(left)}"
    d.journal.step("rollback", StepStatus.SUCCEEDED, detail)
    change_set = ChangeSet(
        changes=[
            *(
                Change(subject=str(a.ref), action=ChangeAction(a.action), summary="re-applied")
                for a in restored
            ),
            *(
                Change(subject=str(r), action=ChangeAction.DELETED, summary="created by this deployment")
                for r in deleted
            ),
        ]
    )
    return Outcome([str(a.ref) for a in restored] + [str(r) for r in deleted], True, detail, change_set)


def _check_limits(d: KubernetesDelivery, refs: Sequence[ObjectRef]) -> None:
    """PlacementRefused naming every object the target's limits refuse; `refs` carry the
    namespace the cluster's discovery gives each (empty for a cluster-scoped kind)."""
    if d.limits is None:
        return
    refused = [
        reason
        for ref in refs
        if (reason := d.limits.refusal(d.component.name, ref.kind, ref.namespace, ref.name)) is not None
    ]
    if refused:
        raise PlacementRefused("; ".join(refused))


def _record_health(d: KubernetesDelivery, found: Sequence[tuple[ObjectRef, Assessment]]) -> None:
    """Each object's last assessment, as its own health step (what `lockstep status` lists)."""
    for ref, a in found:
        status = StepStatus.SUCCEEDED if a.health == Health.HEALTHY else StepStatus.FAILED
        d.journal.step("health", status, f"{a.health.name.lower()}: {a.message}", obj=str(ref))


def _changeset(applied: Sequence[Applied], pruned: Sequence[ObjectRef] = ()) -> str:
    counts = {
        action: sum(1 for a in applied if a.action == action)
        for action in ("created", "configured", "unchanged")
    }
    summary = ", ".join(f"{n} {action}" for action, n in counts.items())
    if pruned:
        summary += f", {len(pruned)} deleted"
    lines = [f"{a.action} {a.ref}" for a in applied] + [f"deleted {ref}" for ref in pruned]
    return "\n".join([summary, *lines])


def _unhealthy(found: Sequence[tuple[ObjectRef, Assessment]]) -> str:
    return "; ".join(f"{ref} is {a.health.name.lower()} ({a.message})" for ref, a in found)


def _check(d: KubernetesDelivery) -> None:
    if d.cancelled is not None and d.cancelled.is_set():
        raise KubernetesCancelled(f"{d.component.name}: cancelled")


def _message(err: BaseException) -> str:
    return str(err)[:4000] or type(err).__name__
