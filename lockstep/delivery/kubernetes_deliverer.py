"""The `kubernetes` kind's deliverer: server-side applied objects on one cluster.

Wires the verbs of `lockstep.delivery.deliverer.Deliverer` to the Kubernetes delivery
(`lockstep.delivery.kubernetes`: namespace limits, a write-ahead inventory, apply, health, prune) and to
the live comparison (`lockstep.delivery.kubernetes_live`, given what the component's live revision
created from the inventory, and for a sweep the listings its components share:
`lockstep.delivery.kube_listings`). One client per call, closed here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lockstep.delivery.deliverer import DeliveryContext, Revision
from lockstep.delivery.kube_listings import ClusterListings
from lockstep.delivery.kubernetes import (
    KubernetesDelivery,
    deliver_kubernetes_component,
    rollback_kubernetes_component,
    wait_healthy,
)
from lockstep.delivery.kubernetes_live import diff_kubernetes, observe_kubernetes
from lockstep.domain.changes import ChangeSet
from lockstep.domain.errors import LockstepError
from lockstep.domain.kube_objects import ObjectRef
from lockstep.domain.masking import Masker
from lockstep.domain.models import RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.settings import KubernetesTargetSettings
from lockstep.store.engine import Store
from lockstep.store.inventory import StoreInventory, ever_applied, previous_objects
from lockstep.targets.kubernetes import KubernetesCluster, connect_kubernetes
from lockstep.targets.registry import TargetRegistry


class KubernetesDeliverer:
    kind = "kubernetes"

    def __init__(self, targets: TargetRegistry, store: Store, masker: Masker) -> None:
        self._targets = targets
        self._store = store
        self._masker = masker
        self._listings = ClusterListings()

    def observe(
        self, component: RenderedComponent, *, with_content: bool = False, since: datetime | None = None
    ) -> Any:
        """Objects are read whole either way (a diff needs nothing more); without `with_content`
        (a sweep, a plan without `--diff`: counts, no diffs) only the objects that differ from
        their manifest get a dry-run apply (`kubernetes_live`). With `since` (a sweep) they are
        read from listings asked since then, shared with the other components
        (`kube_listings`); without, with a GET each."""
        target = self._target(component)
        read = None if since is None else self._listings.reader(component.target_name, since)
        return observe_kubernetes(
            target,
            component,
            previous_refs=self._previous(component),
            limits=target.limits(component.target_name),
            dry_runs="every" if with_content else "differing",
            read_live=read,
            find_claimed=None if since is None else self._listings.claimed(component.target_name, since),
            history=self._history(component) if since is not None else (),
        )

    def diff(self, desired: RenderedComponent, live: Any, *, with_diff: bool = False) -> list[ChangeSet]:
        return diff_kubernetes(desired, live, with_diff=with_diff)

    def apply(self, context: DeliveryContext, component: RenderedComponent) -> list[ChangeSet]:
        """Apply the objects, wait for health, then prune those of the live revision the
        component no longer has (only ones provably its own: `lockstep.delivery.kube_prune`)."""
        with self._delivery(context, component, action="deploy") as delivery:
            delivery.prune = self._previous(component)
            return [deliver_kubernetes_component(delivery).changes]

    def verify(self, context: DeliveryContext, component: RenderedComponent) -> str:
        with self._delivery(context, component, action=None) as delivery:
            refs = [delivery.cluster.ref(obj) for obj in component.objects]  # type: ignore[arg-type]
            return wait_healthy(delivery, refs)

    def restore(
        self, context: DeliveryContext, component: RenderedComponent, revision: Revision
    ) -> list[ChangeSet]:
        """Re-apply the objects of the revision live before (rendered only when this deployment
        applied something) and delete what it created that the revision does not have."""
        # Nothing recorded as applied: nothing to put back, and no cluster to reach for it (one
        # that could not be reached for the deploy makes no rollback fail).
        if not self._journal(context, component).entries():
            return []
        with self._delivery(context, component, action="rollback", interruptible=False) as delivery:
            previous = revision()
            return [rollback_kubernetes_component(delivery, previous.objects if previous else None).changes]

    def _previous(self, component: RenderedComponent) -> list[ObjectRef]:
        """What the component's live revision applied that is Lockstep's (the inventory)."""
        if not component.application:
            return []
        with self._store.read_session() as session:
            return previous_objects(
                session=session,
                application=component.application,
                environment=component.environment,
                component=component.name,
            )

    def _history(self, component: RenderedComponent) -> list[ObjectRef]:
        """Every object the component's deployments here ever applied (`unclaimed` excludes them)."""
        if not component.application:
            return []
        with self._store.read_session() as session:
            return ever_applied(
                session=session,
                application=component.application,
                environment=component.environment,
                component=component.name,
            )

    def _target(self, component: RenderedComponent) -> KubernetesTargetSettings:
        target = self._targets.settings(component.target_name)
        if not isinstance(target, KubernetesTargetSettings):
            raise LockstepError(
                f"{component.name}: target {component.target_name!r} is not a kubernetes target"
            )
        return target

    def _journal(self, context: DeliveryContext, component: RenderedComponent) -> StoreInventory:
        return StoreInventory(
            self._store,
            deployment_id=context.deployment_id,
            application=context.application,
            environment=context.environment,
            component=component.name,
            commit=context.commit,
            masker=self._masker,
        )

    def _delivery(
        self,
        context: DeliveryContext,
        component: RenderedComponent,
        *,
        action: str | None,
        interruptible: bool = True,
    ) -> _OpenDelivery:
        """The delivery of `component`, connected; a cluster that cannot be reached fails the
        component's `action` step (deploy or rollback) with the reason before raising."""
        target = self._target(component)
        journal = self._journal(context, component)
        try:
            cluster = connect_kubernetes(target)
        except Exception as err:  # the step says why, as a deploy that got further would
            if action is not None:
                journal.step(action, StepStatus.FAILED, str(err)[:4000] or type(err).__name__)
            raise
        return _OpenDelivery(
            cluster,
            KubernetesDelivery(
                component,
                cluster,
                journal,
                context.progress,
                context.cancelled if interruptible else None,
                context.attempt,
                limits=target.limits(component.target_name),
            ),
        )


class _OpenDelivery:
    """A delivery whose cluster client is closed when the `with` block ends."""

    def __init__(self, cluster: KubernetesCluster, delivery: KubernetesDelivery) -> None:
        self._cluster = cluster
        self._delivery = delivery

    def __enter__(self) -> KubernetesDelivery:
        return self._delivery

    def __exit__(self, *_exc: object) -> None:
        self._cluster.close()
