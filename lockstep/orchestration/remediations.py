"""Remediation deployments: what the drift sweep starts for the items the policy decided to
remediate (SPEC §4, docs/drift.md).

A remediation is a deployment with trigger `remediation` of the environment's live commit (the
newest successful deployment's), through the environment's lane like any other, that delivers
again only the components with drift to remediate (`DeploymentRequest.components`): same plan
rules, policy, approvals, saga and audit as any deployment, and it promotes nothing.

`remediation_due` decides whether one is due, from what the last sweep of a `drifted` (not
`unknown`) environment recorded: the components whose every open item (ignored ones aside) is
decided `remediate` (a component is delivered whole, so an item the policy only flags keeps its
component as it is) and has no remediation yet, or one that never ran (superseded by a newer
commit) or that was of a commit no longer live, or one that failed, was rolled back or denied by
the policy (a change window), after a back-off of an hour, doubled with each failed attempt, five
at most (Argo CD's self-heal backs off likewise). A person's "no" (rejected, cancelled) is not
asked again, nor one that ended `rollback_failed`, nor one that succeeded while the item is still
seen (say, a Kubernetes object Lockstep cannot prove it owns): the item keeps its `remediation`
id to say what happened, and a person decides.

A remediation delivers only while its commit is still the live one (`stale_remediation`, asked
when it is planned): one that waited behind a deployment of a newer commit ends `denied`, saying
so, rather than put older components back. `adopt_remediation` names a running remediation on
the items whose sweep started it but failed before recording it.

Deliberately does not: compare targets (`lockstep.drift.sweep`), or decide per item (the policy
did, during the sweep).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import Client

from lockstep.domain.drift import EnvironmentDrift
from lockstep.domain.rollback_target import REMEDIATION_TRIGGER
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.settings import Settings
from lockstep.store import drift as drift_store
from lockstep.store.deployments import get_deployment, live_deployment
from lockstep.store.engine import Store
from lockstep.store.tables import DeploymentRecord, as_utc

REMEDIATION_ACTOR = "drift sweep"
RETRY_AFTER = timedelta(hours=1)  # before the first retry of a remediation that failed; doubled after
MAX_ATTEMPTS = 5  # remediations of one live commit that failed, after which a person decides
# Ended without success, for a reason a later attempt may not meet (a change window, a target
# that was down). Not a person's "no" (rejected, cancelled), nor `rollback_failed` (a person
# looks at the target first).
_RETRIED = frozenset({DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK, DeploymentStatus.DENIED})


@dataclass(frozen=True)
class RemediationOrder:
    """Deliver `commit` of `repository` again to `components` of (application, environment)."""

    application: str
    environment: str
    repository: str
    commit: str
    components: tuple[str, ...]
    items: tuple[tuple[str, str, str, str, str], ...] = ()  # the items it is for (`DriftItem.key`)


def remediation_due(store: Store, view: EnvironmentDrift, now: datetime) -> RemediationOrder | None:
    """The remediation the environment's open items call for, or None (module docstring)."""
    if view.state != "drifted":  # `unknown`: a target could not be read, its decisions are stale
        return None
    open_items = [i for i in view.items if i.resolved_at is None and i.decision != "ignore"]
    # A component is delivered whole: one item the policy only flags keeps it as it is.
    flagged = {i.component for i in open_items if i.decision != "remediate"}
    wanted = [i for i in open_items if i.component not in flagged]
    if not wanted:
        return None
    with store.read_session() as session:
        live = live_deployment(session=session, application=view.application, environment=view.environment)
        ran: dict[str, DeploymentRecord | None] = {}
        for remediation in {i.remediation for i in wanted if i.remediation is not None}:
            ran[remediation] = get_deployment(session=session, deployment_id=remediation)
        failed = (
            drift_store.remediations_ended(
                session=session,
                application=view.application,
                environment=view.environment,
                commit=live[0],
                statuses=[s.value for s in _RETRIED],
            )
            if live is not None
            else 0
        )
        repository = (
            drift_store.repository_of(
                session=session, application=view.application, environment=view.environment, commit=live[0]
            )
            if live is not None
            else None
        )
    if live is None or repository is None:
        return None
    due = [i for i in wanted if _due(i.remediation, ran, live[0], now, failed)]
    if not due:
        return None
    return RemediationOrder(
        application=view.application,
        environment=view.environment,
        repository=repository,
        commit=live[0],
        components=tuple(sorted({i.component for i in due})),
        items=tuple(sorted(i.key for i in due)),
    )


def _due(
    remediation: str | None, ran: Mapping[str, DeploymentRecord | None], live: str, now: datetime, failed: int
) -> bool:
    """An item needs a remediation when it has none; when its remediation never ran (superseded)
    or was of a commit no longer live; and when it failed, was rolled back or denied by the
    policy, once the back-off has passed (`RETRY_AFTER`, doubled for each of the `failed`
    remediations of the live commit so far, none after `MAX_ATTEMPTS`). Never while one runs,
    never after a person said no (rejected, cancelled), never after `rollback_failed`, and never
    after one that succeeded while the item stayed (delivering the component does not change it)."""
    if remediation is None:
        return True
    record = ran.get(remediation)
    if record is None:  # gone from the store: nothing says it ran
        return True
    status = DeploymentStatus(record.status)
    if status is DeploymentStatus.SUPERSEDED or (status.is_final and record.commit != live):
        return True
    if status not in _RETRIED or failed >= MAX_ATTEMPTS or record.finished_at is None:
        return False
    waited: timedelta = now - as_utc(record.finished_at)
    back_off: timedelta = RETRY_AFTER * (1 << max(0, failed - 1))
    return waited >= back_off


def stale_remediation(store: Store, application: str, environment: str, commit: str) -> str | None:
    """Why a remediation of `commit` may not deliver (the live commit moved on since the drift
    was found: delivering it would put older components back over newer ones), or None."""
    with store.read_session() as session:
        live = live_deployment(session=session, application=application, environment=environment)
    if live is not None and live[0] == commit:
        return None
    now = f"{live[0][:12]} is live now" if live is not None else "nothing is live there now"
    return (
        f"remediation of {commit[:12]} is stale: {now}; nothing was remediated (the next drift "
        "sweep compares again)"
    )


def adopt_remediation(store: Store, application: str, environment: str, deployment_id: str) -> str | None:
    """Name a running remediation on the open `remediate` items that have none (its start was
    recorded by an earlier attempt that failed after enqueueing); its id, or None when the
    running deployment is no remediation of the live commit."""
    with store.session() as session:
        record = get_deployment(session=session, deployment_id=deployment_id)
        live = live_deployment(session=session, application=application, environment=environment)
        if (
            record is None
            or record.trigger != REMEDIATION_TRIGGER
            or live is None
            or record.commit != live[0]
        ):
            return None
        drift_store.set_remediation(
            session=session,
            application=application,
            environment=environment,
            deployment_id=deployment_id,
            only_unnamed=True,
        )
    return deployment_id


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
    """Name the remediation on the items it is for; how many it names."""
    with store.session() as session:
        return drift_store.set_remediation(
            session=session,
            application=order.application,
            environment=order.environment,
            keys=order.items,
            deployment_id=deployment_id,
        )
