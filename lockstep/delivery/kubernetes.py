"""Delivering a `kubernetes` component: apply every rendered object, wait for health, prune, roll back.

Deploy: check every object against the target's namespace limits (`namespaces`,
`cluster_scoped`), with the cluster's own word on which kinds are namespaced, and refuse the whole
component before anything is recorded or applied if one breaks them; sort the objects the
component dropped into prune candidates and those no rule lets it delete (`lockstep.delivery.
kube_prune`, also before anything is applied); record (write-ahead) which objects this revision is
about to apply, whether each existed already and whether it carried this component's owner mark;
server-side apply them all, each marked as Lockstep's (`lockstep.delivery.kube_owner`), then poll
their health until every one is healthy, one reaches a terminal failure, or the component's health
timeout passes — the error then names each unhealthy object and why. Only a healthy component
prunes (Argo CD's PruneLast): the candidates whose live object names this component as its owner
are deleted. Progress reads "objects healthy N/M"; cancellation is honoured between objects and
between polls. Applying is convergent, so a retried activity is harmless.

Rollback: check the objects of the revision that was live before (the caller renders that commit)
against the same limits, re-apply them, then delete the objects this deployment created that the
previous revision does not have. Objects that existed before but had no previous revision to
restore are left as they are. A rollback attempt that finds an earlier attempt of it in the
journal counts what it re-applied as configured (that attempt may have changed it), as the host
rollback does.

Deliberately does not: talk to the API itself (`lockstep.targets.kubernetes`), judge health
(`lockstep.health.kubernetes`) or know the store's schema (`InventoryJournal`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from lockstep.delivery import kube_prune
from lockstep.delivery.kube_owner import marked, owner_of, owner_on
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
    def delete(
        self, ref: ObjectRef, *, uid: str | None = None, resource_version: str | None = None
    ) -> bool: ...


class InventoryJournal(Protocol):
    def remember(
        self, entries: Sequence[tuple[ObjectRef, bool]], *, owned: Sequence[ObjectRef] = ()
    ) -> dict[ObjectRef, bool]:
        """Write-ahead (ref, existed) per object, and which existing ones carried this
        component's owner mark (`owned`); returns ref -> created as first recorded."""
        ...

    def applied(self, refs: Sequence[ObjectRef]) -> None: ...
    def entries(self) -> list[tuple[ObjectRef, bool]]: ...
    def step_status(self, action: str, *, obj: str = "") -> str | None:
        """The component's step (`obj` empty) or one object's last status, None if never written."""
        ...

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
    # Objects the live revision applied that are Lockstep's (the inventory): those the component
    # no longer has are deleted once it is healthy (pruned, `kube_prune` says which), as Flux and
    # Argo CD's prune do. Rollback re-applies the previous revision, which brings them back.
    prune: Sequence[ObjectRef] = ()


@dataclass(frozen=True)
class Outcome:
    """What a deploy or rollback did, object by object (a change set)."""

    objects: list[str]
    changed: bool
    detail: str
    changes: ChangeSet = field(default_factory=ChangeSet)


def deliver_kubernetes_component(d: KubernetesDelivery) -> Outcome:
    """Apply the component's objects, wait until they are healthy (HealthCheckFailed if not),
    then prune what it dropped."""
    owner = owner_of(d.component)
    objects = [marked(cast(KubeObject, o), owner) for o in d.component.objects]
    d.journal.step("deploy", StepStatus.RUNNING, attempt=d.attempt)
    try:
        refs = [d.cluster.ref(o) for o in objects]
        _check_limits(d, refs)  # before the inventory or the cluster is written to
        candidates = kube_prune.candidates(d.prune, refs, limits=d.limits, component=d.component.name)
        live = [(ref, d.cluster.get(ref)) for ref in refs]
        d.journal.remember(
            [(ref, found is not None) for ref, found in live],
            owned=[ref for ref, found in live if found is not None and owner_on(found) == owner],
        )
        applied: list[Applied] = []
        for i, obj in enumerate(objects):
            _check(d)
            applied.append(d.cluster.apply(obj))
            d.journal.step("deploy", StepStatus.SUCCEEDED, applied[-1].action, obj=str(applied[-1].ref))
            d.progress(f"objects applied {i + 1}/{len(objects)}")
        d.journal.applied(refs)
    except BaseException as err:
        d.journal.step("deploy", StepStatus.FAILED, _message(err))
        raise
    d.journal.step("deploy", StepStatus.SUCCEEDED, _changeset(applied))
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
    pruned = _prune(d, candidates, owner)
    changes = _changeset(applied, pruned)
    d.journal.step("deploy", StepStatus.SUCCEEDED, changes)
    return Outcome(
        [str(r) for r in refs],
        any(a.action != "unchanged" for a in applied) or bool(pruned.deleted),
        changes,
        ChangeSet(
            changes=[
                *(Change(subject=str(a.ref), action=ChangeAction(a.action)) for a in applied),
                *kube_prune.changes(pruned),
            ]
        ),
    )


def _prune(d: KubernetesDelivery, candidates: kube_prune.Candidates, owner: str) -> kube_prune.Pruned:
    """Delete the candidates that are provably this component's; each deleted or kept object gets
    its own deploy step saying so. A failure here fails the deploy step (the component is healthy)."""
    try:
        pruned = kube_prune.prune(d.cluster, candidates, owner, check=lambda: _check(d))
    except BaseException as err:
        d.journal.step("deploy", StepStatus.FAILED, f"pruning: {_message(err)}")
        raise
    for ref in pruned.deleted:
        d.journal.step("deploy", StepStatus.SUCCEEDED, f"deleted: {kube_prune.PRUNED}", obj=str(ref))
    for skipped in pruned.skipped:
        d.journal.step("deploy", StepStatus.SUCCEEDED, f"not pruned: {skipped.reason}", obj=str(skipped.ref))
    for gone in pruned.gone:
        d.progress(f"warning: {gone.ref} {gone.reason}")
    if pruned.deleted or pruned.skipped:
        d.progress(f"pruned {len(pruned.deleted)} objects, kept {len(pruned.skipped)}")
    return pruned


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
    # Read before this attempt writes: an earlier attempt of this rollback may have put things back.
    earlier = d.journal.step_status("rollback") is not None
    d.journal.step("rollback", StepStatus.RUNNING, attempt=d.attempt)
    try:
        owner = owner_of(d.component)
        restoring = [marked(cast(KubeObject, obj), owner) for obj in previous or ()]
        _check_limits(d, [d.cluster.ref(obj) for obj in restoring])
        restored = [d.cluster.apply(obj) for obj in restoring]
        for a in restored:
            d.journal.step("rollback", StepStatus.SUCCEEDED, f"re-applied ({a.action})", obj=str(a.ref))
        keep = {a.ref.key for a in restored}
        created = [ref for ref, created in entries if created and ref.key not in keep]
        deleted = [ref for ref in created if d.cluster.delete(ref)]
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
    change_set = _rollback_changes(restored, deleted, created if earlier else [], earlier=earlier)
    d.journal.step("rollback", StepStatus.SUCCEEDED, detail)
    return Outcome(
        [str(a.ref) for a in restored] + [str(r) for r in deleted], change_set.changed, detail, change_set
    )


def _rollback_changes(
    restored: Sequence[Applied],
    deleted: Sequence[ObjectRef],
    to_delete: Sequence[ObjectRef],
    *,
    earlier: bool,
) -> ChangeSet:
    """What this attempt re-applied and deleted. After an `earlier` attempt of this rollback, as
    a host rollback's links: when this one re-applied nothing that differed, what it re-applied
    counts as configured (that attempt may have), and `to_delete` already gone as deleted by it."""
    put_back = earlier and all(a.action == "unchanged" for a in restored)
    gone = [ref for ref in to_delete if ref not in deleted]
    return ChangeSet(
        changes=[
            *(
                Change(subject=str(a.ref), action=ChangeAction.CONFIGURED, summary=_EARLIER)
                if put_back
                else Change(subject=str(a.ref), action=ChangeAction(a.action), summary="re-applied")
                for a in restored
            ),
            *(
                Change(subject=str(r), action=ChangeAction.DELETED, summary="created by this deployment")
                for r in deleted
            ),
            *(
                Change(subject=str(r), action=ChangeAction.DELETED, summary="deleted by an earlier attempt")
                for r in gone
            ),
        ]
    )


_EARLIER = "put back by an earlier attempt"


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


def _changeset(applied: Sequence[Applied], pruned: kube_prune.Pruned | None = None) -> str:
    counts = {
        action: sum(1 for a in applied if a.action == action)
        for action in ("created", "configured", "unchanged")
    }
    summary = ", ".join(f"{n} {action}" for action, n in counts.items())
    if pruned is not None and pruned.deleted:
        summary += f", {len(pruned.deleted)} deleted"
    if pruned is not None and pruned.skipped:
        summary += f", {len(pruned.skipped)} not pruned"
    lines = [f"{a.action} {a.ref}" for a in applied] + (kube_prune.report(pruned) if pruned else [])
    return "\n".join([summary, *lines])


def _unhealthy(found: Sequence[tuple[ObjectRef, Assessment]]) -> str:
    return "; ".join(f"{ref} is {a.health.name.lower()} ({a.message})" for ref, a in found)


def _check(d: KubernetesDelivery) -> None:
    if d.cancelled is not None and d.cancelled.is_set():
        raise KubernetesCancelled(f"{d.component.name}: cancelled")


def _message(err: BaseException) -> str:
    return str(err)[:4000] or type(err).__name__
