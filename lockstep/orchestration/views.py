"""Deployment views built from the system of record, for the CLI and the API.

The store is the source of truth for `lockstep status|list|history`; while a deployment runs,
its activities keep the store current, and the workflow's `status` query shows the same shape.
Command output, errors and the summaries of a step's changes are masked again here with the
secrets the reading process knows (`masker`): the worker masked what it knew before storing, but
it never holds the API's secrets.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from lockstep.domain.approvals import approval_entry
from lockstep.domain.masking import Masker
from lockstep.domain.messages import DeploymentView, StepChanges, StepView
from lockstep.domain.models import Plan
from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.store.audit import started_actor_source
from lockstep.store.deployments import get_deployment, list_deployments
from lockstep.store.governance import approvals_for, policy_decisions_for
from lockstep.store.steps import step_changes, steps_for
from lockstep.store.tables import DeploymentRecord, StepRecord


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


_NOTHING_KNOWN = Masker(())


def _changes(step: StepRecord, masker: Masker, *, items: bool) -> StepChanges | None:
    """The step's stored change set as shown, summaries and reasons masked again; without
    `items` (a list of deployments), the counts and summary only."""
    change_set = step_changes(step)
    if change_set is None:
        return None
    listed = (
        change_set if items else change_set.model_copy(update={"changes": [], "totals": change_set.counts()})
    )
    shown = StepChanges.of(listed)
    return shown.model_copy(
        update={
            "items": [
                i.model_copy(update={"subject": masker.mask(i.subject), "summary": masker.mask(i.summary)})
                for i in shown.items
            ],
            "unreachable": masker.mask(shown.unreachable),
        }
    )


def _error(step: StepRecord, masker: Masker) -> str | None:
    """A failed step's error: the first line of its output, where the journal puts why it failed
    (the command output follows it)."""
    if step.status != StepStatus.FAILED.value or not step.output:
        return None
    first = next((line for line in step.output.splitlines() if line.strip()), "")
    return masker.mask(first[:2000]) or None


def deployment_view(
    session: Session,
    record: DeploymentRecord,
    *,
    with_steps: bool = True,
    change_items: bool = True,
    masker: Masker = _NOTHING_KNOWN,
) -> DeploymentView:
    plan = Plan.model_validate_json(record.plan_json) if record.plan_json not in ("", "{}") else Plan()
    steps = (
        [
            StepView(
                component=s.component,
                host=s.host,
                action=s.action,
                status=StepStatus(s.status),
                started_at=_iso(s.started_at),
                finished_at=_iso(s.finished_at),
                output=masker.mask(s.output),
                error=_error(s, masker),
                changes=_changes(s, masker, items=change_items),
            )
            for s in steps_for(session=session, deployment_id=record.id)
        ]
        if with_steps
        else []
    )
    approvals = (
        [
            approval_entry(
                approver=a.approver,
                decision=a.decision,
                at=a.decided_at.isoformat(),
                comment=a.comment,
                source=a.source,
                counted=a.counted,
                reason=a.reason,
            )
            for a in approvals_for(session=session, deployment_id=record.id)
        ]
        if with_steps
        else []
    )
    warnings = sorted(
        {w for d in policy_decisions_for(session=session, deployment_id=record.id) for w in d.warnings}
        if with_steps
        else set()
    )
    return DeploymentView(
        id=record.id,
        application=record.application,
        environment=record.environment,
        commit=record.commit,
        status=DeploymentStatus(record.status),
        trigger=record.trigger,
        actor=record.actor,
        actor_source=started_actor_source(session=session, deployment_id=record.id),
        plan=plan,
        steps=steps,
        approvals=approvals,
        approvals_required=record.approvals_required or 0,
        policy_warnings=warnings,
        error=masker.mask(record.error),
        created_at=_iso(record.created_at),
        updated_at=_iso(record.updated_at),
        finished_at=_iso(record.finished_at),
    )


def find_view(
    session: Session, deployment_id: str, *, masker: Masker = _NOTHING_KNOWN
) -> DeploymentView | None:
    record = get_deployment(session=session, deployment_id=deployment_id)
    return deployment_view(session, record, masker=masker) if record else None


def list_views(
    session: Session,
    *,
    application: str | None = None,
    environment: str | None = None,
    status: str | None = None,
    limit: int = 100,
    with_steps: bool = True,
    masker: Masker = _NOTHING_KNOWN,
) -> list[DeploymentView]:
    records = list_deployments(
        session=session, application=application, environment=environment, status=status, limit=limit
    )
    # A list shows each step's change counts; one deployment's view (status, GET by id) its
    # subjects too: a list of 100 deployments would otherwise carry up to 500 subjects a step.
    return [
        deployment_view(session, r, with_steps=with_steps, change_items=False, masker=masker) for r in records
    ]
