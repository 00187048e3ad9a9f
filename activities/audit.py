"""Audit-trail writes from activities, keyed so a replayed or retried activity adds nothing twice.

Owns the key scheme: an entry written by an activity is keyed by workflow, run, activity and
attempt (each attempt's outcome is its own fact; replaying a completed activity re-runs nothing),
plus a suffix naming the fact. It does not decide what is audited; the activities do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from lockstep.delivery.rendering import RenderedCommit
from lockstep.domain.audit import AuditEntry, AuditKind, actor_source_for
from lockstep.domain.changes import ChangeSet, total_counts
from lockstep.domain.messages import ComponentRequest, DeploymentRequest
from lockstep.domain.models import Plan
from lockstep.orchestration.admission import Admission
from lockstep.store.audit import append_entry
from lockstep.store.engine import Store


def activity_key(suffix: str) -> str:
    """`<workflow>/<run>/<activity>/<attempt>/<suffix>` for the running activity."""
    info = activity.info()
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}/{info.attempt}/{suffix}"


def audit(
    store: Store,
    *,
    key: str,
    kind: AuditKind,
    deployment_id: str | None,
    application: str | None,
    environment: str | None,
    detail: dict[str, Any],
    actor: str | None = None,
    actor_source: str = "system",
    at: str | None = None,
) -> None:
    """Append one entry (in its own transaction); the same key again writes nothing."""
    entry = AuditEntry(
        key=key,
        kind=kind,
        actor=actor,
        actor_source=actor_source,
        deployment_id=deployment_id,
        application=application,
        environment=environment,
        detail=detail,
        at=at or datetime.now(UTC).isoformat(),
    )
    with store.session() as session:
        append_entry(session=session, entry=entry)


def audit_planned(
    store: Store, request: DeploymentRequest, rendered: RenderedCommit, plan: Plan, admission: Admission
) -> None:
    """`started` and `planned`, once per workflow run (keyed by run, not by attempt)."""
    info = activity.info()
    common = {
        "deployment_id": request.deployment_id,
        "application": request.application,
        "environment": request.environment,
    }
    audit(
        store,
        key=f"{info.workflow_id}/{info.workflow_run_id}/started",
        kind=AuditKind.STARTED,
        actor=request.actor,
        actor_source=request.actor_source or actor_source_for(request.trigger, request.actor),
        detail={
            "trigger": request.trigger,
            "commit": rendered.commit.sha,
            "author_email": rendered.commit.author_email,
        },
        **common,
    )
    audit(
        store,
        key=f"{info.workflow_id}/{info.workflow_run_id}/planned",
        kind=AuditKind.PLANNED,
        detail={
            "components": [
                {"name": c.name, "action": c.action.value, "reason": c.reason} for c in plan.components
            ],
            "waves": plan.waves,
            "unchanged": plan.unchanged,
            "approvals_required": admission.gate.required,
            "approver_groups": admission.gate.groups,
            "change_authors": [a.model_dump() for a in admission.gate.authors],
            "authors_note": admission.gate.authors_note,
            "denied": admission.denied or "",
            "rules_changed": admission.rules_changed,
        },
        **common,
    )


def covered(changes: Sequence[ChangeSet]) -> list[str]:
    """The hosts a component's change sets cover, or for a cluster the objects (`Kind/ns/name`)."""
    return [c.location for c in changes if c.location] + [
        change.subject for c in changes if not c.location for change in c.changes
    ]


_AUDITED_LOCATIONS = 100  # change counts per host an audit entry lists; the total is exact


def audit_step(
    store: Store,
    request: ComponentRequest,
    kind: AuditKind,
    outcome: str,
    changes: Sequence[ChangeSet],
    error: str = "",
) -> None:
    """One attempt's outcome for one component (each attempt is its own fact), with what it
    changed: counts per action in all, and per host (or for the cluster)."""
    hosts = covered(changes)
    detail: dict[str, object] = {
        "component": request.component,
        "outcome": outcome,
        "hosts": hosts[:_AUDITED_LOCATIONS],
        "hosts_total": len(hosts),
    }
    if changes:
        detail["changes"] = total_counts(changes)
        detail["locations"] = {c.location or "cluster": c.counts() for c in changes[:_AUDITED_LOCATIONS]}
    if error:
        detail["error"] = error[:2000]
    audit(
        store,
        key=activity_key(kind.value),
        kind=kind,
        deployment_id=request.deployment_id,
        application=request.application,
        environment=request.environment,
        detail=detail,
    )
