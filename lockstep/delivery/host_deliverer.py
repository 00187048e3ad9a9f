"""The `host` kind's deliverer: releases on every host of a local or ssh target.

Wires the verbs of `lockstep.delivery.deliverer.Deliverer` to the host delivery
(`lockstep.delivery.host`: staged releases, an atomic `current` switch, deploy commands, health
per batch, a journal of what each host was on), to the rollback driven by that journal
(`lockstep.delivery.host_rollback`) and to the live comparison (`lockstep.delivery.host_live`).
Connections come from the target registry and are closed here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lockstep.delivery.deliverer import DeliveryContext, Revision
from lockstep.delivery.host import (
    DeliveryLimits,
    HostDelivery,
    deliver_host_component,
    require_every_host,
    verify_host_health,
)
from lockstep.delivery.host_live import diff_host, observe_host
from lockstep.delivery.host_rollback import rollback_host_component
from lockstep.domain.changes import ChangeSet
from lockstep.domain.masking import Masker
from lockstep.domain.models import RenderedComponent
from lockstep.store.engine import Store
from lockstep.store.journal import StoreJournal
from lockstep.targets.registry import TargetRegistry


class HostDeliverer:
    kind = "host"

    def __init__(self, targets: TargetRegistry, store: Store, masker: Masker) -> None:
        self._targets = targets
        self._store = store
        self._masker = masker

    def observe(
        self, component: RenderedComponent, *, with_content: bool = False, since: datetime | None = None
    ) -> Any:
        """Each host is read now, whatever `since` allows (nothing is shared between components)."""
        del since
        return observe_host(self._targets, component, with_content=with_content)

    def diff(self, desired: RenderedComponent, live: Any, *, with_diff: bool = False) -> list[ChangeSet]:
        return diff_host(desired, live, with_diff=with_diff)

    def apply(self, context: DeliveryContext, component: RenderedComponent) -> list[ChangeSet]:
        """Every host or none: one that cannot be reached gets a failed step saying why (an
        unknown host key, say), so the deployment shows where it stopped."""
        delivery = self._delivery(context, component, interruptible=True)
        target = component.target_name
        hosts = require_every_host(delivery, self._targets.connect_each(target, interrupt=context.cancelled))
        try:
            return deliver_host_component(delivery, hosts, self._targets.batch_size(target))
        finally:
            for conn in hosts:
                conn.close()

    def verify(self, context: DeliveryContext, component: RenderedComponent) -> str:
        delivery = self._delivery(context, component, interruptible=True)
        hosts = require_every_host(
            delivery, self._targets.connect_each(component.target_name, interrupt=context.cancelled)
        )
        try:
            return "\n".join(verify_host_health(delivery, conn) for conn in hosts)
        finally:
            for conn in hosts:
                conn.close()

    def restore(
        self, context: DeliveryContext, component: RenderedComponent, revision: Revision
    ) -> list[ChangeSet]:
        """Every host this deployment touched back on the release the journal recorded before
        it (`revision` is not needed: each host's own way back is in the journal), running the
        deploy commands of the previous live revision (`context.previous_commit`) there. Not
        interruptible (a half-done rollback is worse than a slow one): `cancelled` only ends
        the waiting for hosts that cannot be reached."""
        target = component.target_name
        done = rollback_host_component(
            self._delivery(context, component, interruptible=False),
            lambda hosts: self._targets.connect_each(target, hosts),
            context.deploy_commands_for,
            batch=self._targets.batch_size(target),
            patience=context.patience,
            stop=context.cancelled,
            previous_commit=context.previous_commit,
        )
        return done.changes

    def _delivery(
        self, context: DeliveryContext, component: RenderedComponent, *, interruptible: bool
    ) -> HostDelivery:
        t = context.timeouts
        return HostDelivery(
            component=component,
            release=context.commit,
            env={**context.env, "LOCKSTEP_COMPONENT": component.name},
            journal=StoreJournal(
                self._store,
                deployment_id=context.deployment_id,
                component=component.name,
                masker=self._masker,
            ),
            limits=DeliveryLimits(
                command_timeout=t.command_seconds,
                max_output=t.max_output_bytes,
                keep_releases=self._targets.keep_releases(component.target_name),
            ),
            progress=context.progress,
            cancelled=context.cancelled if interruptible else None,
            attempt=context.attempt,
        )
