"""Activities of the governance stage: evaluate policy, record approval decisions.

Policy runs at plan time and again right before the first change (`PolicyRequest.stage`). Each
decision is stored with the input's hash, the result, the engine and the bundle revision, and
audited. The engines fail closed themselves (an error is a deny with its reason), so a retry
here only covers the store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from lockstep.domain.policy import PolicyDecision
from lockstep.policy.engine import PolicyEngine
from lockstep.policy.input import deploy_input
from temporalio import activity

from activities.audit import activity_key, audit
from lockstep.domain.approvals import ApprovalRecord
from lockstep.domain.audit import AuditKind
from lockstep.domain.messages import PolicyRequest
from lockstep.store.engine import Store
from lockstep.store.governance import record_approval, record_policy_decision


class GovernanceActivities:
    def __init__(self, *, store: Store, engine: PolicyEngine) -> None:
        self._store = store
        self._engine = engine

    @activity.defn(name="evaluate_policy")
    async def evaluate_policy(self, request: PolicyRequest) -> PolicyDecision:
        """Evaluate `data.lockstep.deploy` for the planned deployment; store and audit the decision."""

        def work() -> PolicyDecision:
            now = datetime.now(UTC).replace(microsecond=0)
            document = deploy_input(
                application=request.application,
                environment=request.environment,
                commit=request.commit,
                trigger=request.trigger,
                actor=request.actor,
                plan=request.plan,
                approvals=request.approvals,
                now=now.isoformat().replace("+00:00", "Z"),
            )
            decision = self._engine.evaluate_deploy(document)
            with self._store.session() as session:
                record_policy_decision(
                    session=session,
                    deployment_id=request.deployment_id,
                    stage=request.stage,
                    engine=decision.engine,
                    bundle_revision=decision.bundle_revision,
                    input_sha256=decision.input_sha256,
                    deny=decision.deny,
                    warn=decision.warn,
                    approvals_required=decision.approvals_required,
                    decided_at=now,
                )
            audit(
                self._store,
                key=activity_key(f"policy/{request.stage}"),
                kind=AuditKind.POLICY_DECISION,
                deployment_id=request.deployment_id,
                application=request.application,
                environment=request.environment,
                detail={
                    "stage": request.stage,
                    "denied": decision.denied,
                    "deny": decision.deny,
                    "warn": decision.warn,
                    "approvals_required": decision.approvals_required,
                    "engine": decision.engine,
                    "bundle_revision": decision.bundle_revision,
                    "input_sha256": decision.input_sha256,
                },
                at=now.isoformat(),
            )
            return decision

        return await asyncio.to_thread(work)

    @activity.defn(name="record_approval")
    async def record_approval(self, record: ApprovalRecord) -> None:
        """Store and audit one approve/reject decision, counted or refused (keyed by its sequence)."""

        def write() -> None:
            at = datetime.fromisoformat(record.at) if record.at else datetime.now(UTC)
            with self._store.session() as session:
                record_approval(
                    session=session,
                    deployment_id=record.deployment_id,
                    sequence=record.sequence,
                    approver=record.approver,
                    decision=record.decision,
                    comment=record.comment,
                    source=record.source.value,
                    counted=record.counted,
                    reason=record.reason,
                    decided_at=at,
                )
            audit(
                self._store,
                key=f"{record.deployment_id}/decision/{record.sequence}",
                kind=AuditKind.APPROVAL if record.decision == "approve" else AuditKind.REJECTION,
                actor=record.approver,
                actor_source=record.source.value,
                deployment_id=record.deployment_id,
                application=record.application,
                environment=record.environment,
                detail={
                    "decision": record.decision,
                    "counted": record.counted,
                    "reason": record.reason,
                    "comment": record.comment,
                },
                at=at.isoformat(),
            )

        await asyncio.to_thread(write)
