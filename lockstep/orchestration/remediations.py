"""Remediation deployments: what the drift sweep starts for the items the policy decided to
remediate (SPEC §4, docs/drift.md).

A remediation is a deployment with trigger `remediation` of the environment's live commit (the
newest successful deployment's), through the environment's lane like any other, that delivers
again only the components with drift to remediate (`DeploymentRequest.components`): same plan
rules, policy, approvals, saga and audit as any deployment, and it promotes nothing.

`remediation_due` decides whether one is due, from what the last sweep recorded: the components
whose every open item (ignored ones aside) is decided `remediate` (a component is delivered
whole, so an item the policy only flags keeps its component as it is) and has no remediation yet,
or one that never ran (superseded by a newer commit, or cancelled while queued). One that ran and failed, or
succeeded while the item is still seen (say, a Kubernetes object Lockstep cannot prove it owns),
is not started again by every sweep: the item keeps its `remediation` id to say what happened,
and a person decides (`lockstep deploy`, `lockstep rollback`, or putting it back by hand).

Deliberately does not: compare targets (`lockstep.drift.sweep`), or decide per item (the policy
did, during the sweep).
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client

from lockstep.domain.drift import EnvironmentDrift
from lockstep.domain.rollback_target import REMEDIATION_TRIGGER
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.settings import Settings
from lockstep.store import drift as drift_store
from lockstep.store.deployments import get_deployment, live_deployment
from lockstep.store.engine import Store

REMEDIATION_ACTOR = "drift sweep"
# A remediation in these ended without delivering anything: the items are still due.
_NEVER_RAN = frozenset({DeploymentStatus.SUPERSEDED.value, DeploymentStatus.CANCELLED.value})


@dataclass(frozen=True)
class RemediationOrder:
    """Deliver `commit` of `repository` again to `components` of (application, environment)."""

    application: str
    environment: str
    repository: str
    commit: str
    components: tuple[str, ...]


def remediation_due(store: Store, view: EnvironmentDrift) -> RemediationOrder | None:
    """The remediation the environment's open items call for, or None (module docstring)."""
    open_items = [i for i in view.items if i.resolved_at is None and i.decision != "ignore"]
    # A component is delivered whole: one item the policy only flags keeps it as it is.
    flagged = {i.component for i in open_items if i.decision != "remediate"}
    wanted = [i for i in open_items if i.component not in flagged]
    if not wanted:
        return None
    with store.read_session() as session:
        live = live_deployment(session=session, application=view.application, environment=view.environment)
        ran: dict[str, str | None] = {}
        for remediation in {i.remediation for i in wanted if i.remediation is not None}:
            record = get_deployment(session=session, deployment_id=remediation)
            ran[remediation] = record.status if record is not None else None
        repository = (
            drift_store.repository_of(
                session=session, application=view.application, environment=view.environment, commit=live[0]
            )
            if live is not None
            else None
        )
    if live is None or repository is None:
        return None
    components = sorted(
        {
            i.component
            for i in wanted
            if i.remediation is None or ran.get(i.remediation) in _NEVER_RAN or i.remediation not in ran
        }
    )
    if not components:
        return None
    return RemediationOrder(
        application=view.application,
        environment=view.environment,
        repository=repository,
        commit=live[0],
        components=tuple(components),
    )


async def start_remediation(client: Client, settings: Settings, store: Store, order: RemediationOrder) -> str:
    """Enqueue the remediation through the environment's lane; its deployment id (an existing
    one when a remediation of the live commit is queued or running already)."""
    enqueued = await enqueue_deployment(
        client=client,
        settings=settings,
        store=store,
        application=order.application,
        environment=order.environment,
        repository=order.repository,
        commit=order.commit,
        trigger=REMEDIATION_TRIGGER,
        actor=REMEDIATION_ACTOR,
        components=order.components,
    )
    return enqueued.deployment_id


def record_remediation(store: Store, order: RemediationOrder, deployment_id: str) -> int:
    """Name the remediation on the open items of its components; how many it names."""
    with store.session() as session:
        return drift_store.set_remediation(
            session=session,
            application=order.application,
            environment=order.environment,
            components=order.components,
            deployment_id=deployment_id,
        )
