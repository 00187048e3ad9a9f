"""Repository functions for governance records: approval decisions and policy decisions.

Both writes are keyed (deployment + sequence, deployment + stage), so a retried or replayed
activity writes nothing twice. The audit trail (`lockstep.store.audit`) is written alongside by
the activities; this module keeps the queryable records the views and DORA metrics read.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session, col, select

from lockstep.store.inserts import insert_or_get
from lockstep.store.tables import ApprovalDecisionRecord, PolicyDecisionRecord


def record_approval(
    *,
    session: Session,
    deployment_id: str,
    run_id: str,
    sequence: int,
    approver: str,
    decision: str,
    comment: str,
    source: str,
    counted: bool,
    reason: str,
    decided_at: datetime,
) -> ApprovalDecisionRecord:
    """Store one decision; the same (deployment, run, sequence) again returns the first row."""
    row = ApprovalDecisionRecord(
        deployment_id=deployment_id,
        run_id=run_id,
        sequence=sequence,
        approver=approver,
        decision=decision,
        comment=comment,
        source=source,
        counted=counted,
        reason=reason,
        decided_at=decided_at,
    )

    def find() -> ApprovalDecisionRecord | None:
        return session.exec(
            select(ApprovalDecisionRecord).where(
                ApprovalDecisionRecord.deployment_id == deployment_id,
                ApprovalDecisionRecord.run_id == run_id,
                ApprovalDecisionRecord.sequence == sequence,
            )
        ).first()

    return insert_or_get(session, row, find)


def approvals_for(*, session: Session, deployment_id: str) -> list[ApprovalDecisionRecord]:
    return list(
        session.exec(
            select(ApprovalDecisionRecord)
            .where(ApprovalDecisionRecord.deployment_id == deployment_id)
            .order_by(col(ApprovalDecisionRecord.decided_at), col(ApprovalDecisionRecord.sequence))
        )
    )


def record_policy_decision(
    *,
    session: Session,
    deployment_id: str,
    run_id: str,
    stage: str,
    engine: str,
    bundle_revision: str,
    input_sha256: str,
    deny: list[str],
    warn: list[str],
    approvals_required: int,
    decided_at: datetime,
) -> PolicyDecisionRecord:
    """Store one evaluation; the same (deployment, run, stage) again returns the first row, so a
    retried activity reports the decision that was stored, never a second opinion."""
    row = PolicyDecisionRecord(
        deployment_id=deployment_id,
        run_id=run_id,
        stage=stage,
        engine=engine,
        bundle_revision=bundle_revision,
        input_sha256=input_sha256,
        denied=bool(deny),
        deny_json=json.dumps(deny),
        warn_json=json.dumps(warn),
        approvals_required=approvals_required,
        decided_at=decided_at,
    )

    def find() -> PolicyDecisionRecord | None:
        return stored_policy_decision(
            session=session, deployment_id=deployment_id, run_id=run_id, stage=stage
        )

    return insert_or_get(session, row, find)


def stored_policy_decision(
    *, session: Session, deployment_id: str, run_id: str, stage: str
) -> PolicyDecisionRecord | None:
    return session.exec(
        select(PolicyDecisionRecord).where(
            PolicyDecisionRecord.deployment_id == deployment_id,
            PolicyDecisionRecord.run_id == run_id,
            PolicyDecisionRecord.stage == stage,
        )
    ).first()


def policy_decisions_for(*, session: Session, deployment_id: str) -> list[PolicyDecisionRecord]:
    return list(
        session.exec(
            select(PolicyDecisionRecord)
            .where(PolicyDecisionRecord.deployment_id == deployment_id)
            .order_by(col(PolicyDecisionRecord.decided_at))
        )
    )
