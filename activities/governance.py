"""Activities of the governance stage: evaluate policy, record approval decisions.

Policy runs at plan time and again right before the first change (`PolicyRequest.stage`). Each
decision is stored with the input's hash, the result, the engine and the bundle revision, and
audited. The engines fail closed themselves (an error is a deny with its reason); a retry after
the decision was stored returns the stored decision, so what the workflow acts on is always what
the record says.

Recording an approval also settles how its approver was known: `api-token` only when the API's
signature verifies against its public key (`lockstep.security.approval_signing`), else the
Temporal path's claim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from temporalio import activity

from activities.audit import audit
from activities.threads import ActivityThreads
from lockstep.domain.approvals import ApprovalRecord, ApprovalSource
from lockstep.domain.audit import ActorSource, AuditKind
from lockstep.domain.messages import PolicyRequest
from lockstep.domain.policy import PolicyDecision
from lockstep.domain.temporal_names import EVALUATE_POLICY, RECORD_APPROVAL
from lockstep.policy.engine import PolicyEngine
from lockstep.policy.input import deploy_input, rfc3339
from lockstep.security.approval_signing import ApprovalVerifier
from lockstep.store.engine import Store
from lockstep.store.governance import record_approval, record_policy_decision, stored_policy_decision
from lockstep.store.tables import PolicyDecisionRecord


def _as_decision(row: PolicyDecisionRecord) -> PolicyDecision:
    return PolicyDecision(
        deny=row.reasons,
        warn=row.warnings,
        approvals_required=row.approvals_required,
        engine=row.engine,
        bundle_revision=row.bundle_revision,
        input_sha256=row.input_sha256,
    )


class GovernanceActivities:
    def __init__(
        self,
        *,
        store: Store,
        threads: ActivityThreads,
        engine: PolicyEngine,
        proofs: ApprovalVerifier | None = None,
        groups: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._store = store
        self._threads = threads
        self._engine = engine
        self._proofs = proofs  # the API's public key; without one, every decision is a claim
        self._groups = {name: tuple(g) for name, g in (groups or {}).items()}  # user -> groups

    @activity.defn(name=EVALUATE_POLICY)
    async def evaluate_policy(self, request: PolicyRequest) -> PolicyDecision:
        """Evaluate `data.lockstep.deploy` for the planned deployment; store and audit the decision."""
        info = activity.info()
        run_id = info.workflow_run_id or ""
        # One fact per run and stage, whatever attempt stores or audits it.
        key = f"{info.workflow_id}/{run_id}/policy/{request.stage}"

        def work() -> PolicyDecision:
            with self._store.session() as session:
                stored = stored_policy_decision(
                    session=session, deployment_id=request.deployment_id, run_id=run_id, stage=request.stage
                )
            if stored is not None:  # a retry after the decision was stored: the record stands
                self._audit_decision(request, key, stored)
                return _as_decision(stored)
            now = datetime.now(UTC).replace(microsecond=0)
            document = deploy_input(
                application=request.application,
                environment=request.environment,
                commit=request.commit,
                trigger=request.trigger,
                actor=request.actor,
                groups=self._actor_groups(request),
                plan=request.plan,
                approvals=request.approvals,
                now=rfc3339(now),
            )
            decision = self._engine.evaluate_deploy(document)
            with self._store.session() as session:
                row = record_policy_decision(
                    session=session,
                    deployment_id=request.deployment_id,
                    run_id=run_id,
                    stage=request.stage,
                    engine=decision.engine,
                    bundle_revision=decision.bundle_revision,
                    input_sha256=decision.input_sha256,
                    deny=decision.deny,
                    warn=decision.warn,
                    approvals_required=decision.approvals_required,
                    decided_at=now,
                )
            self._audit_decision(request, key, row)  # another attempt may have stored first
            return _as_decision(row)

        return await self._threads.run(work)

    def _actor_groups(self, request: PolicyRequest) -> Sequence[str]:
        """The actor's groups, for an actor a token authenticated only: a webhook's pusher or a
        local user is a name, not an identity, and may not borrow a configured user's groups."""
        if request.actor is None or request.actor_source != ActorSource.API_TOKEN.value:
            return ()
        return self._groups.get(request.actor, ())

    def _audit_decision(self, request: PolicyRequest, key: str, row: PolicyDecisionRecord) -> None:
        decision = _as_decision(row)
        audit(
            self._store,
            key=key,
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
            at=row.decided_at.isoformat(),
        )

    @activity.defn(name=RECORD_APPROVAL)
    async def record_approval(self, record: ApprovalRecord) -> str:
        """Store and audit one approve/reject decision, counted or refused; return how the approver
        was known (`api-token` when the API's proof verifies, else `temporal-signal`)."""
        info = activity.info()

        def write() -> str:
            source = self._source(record)
            at = datetime.fromisoformat(record.at) if record.at else datetime.now(UTC)
            with self._store.session() as session:
                stored = record_approval(
                    session=session,
                    deployment_id=record.deployment_id,
                    run_id=info.workflow_run_id or "",
                    sequence=record.sequence,
                    approver=record.approver,
                    decision=record.decision,
                    comment=record.comment,
                    source=source.value,
                    counted=record.counted,
                    reason=record.reason,
                    decided_at=at,
                )
            audit(
                self._store,
                key=f"{info.workflow_id}/{info.workflow_run_id}/decision/{record.sequence}",
                kind=AuditKind.APPROVAL if record.decision == "approve" else AuditKind.REJECTION,
                actor=record.approver,
                actor_source=stored.source,
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
            return stored.source

        return await self._threads.run(write)

    def _source(self, record: ApprovalRecord) -> ApprovalSource:
        if record.source != ApprovalSource.API_TOKEN:
            return ApprovalSource.TEMPORAL
        if self._proofs is not None and self._proofs.holds(
            record.proof,
            deployment_id=record.deployment_id,
            decision=record.decision,
            approver=record.approver,
        ):
            return ApprovalSource.API_TOKEN
        # Either someone claims to be the API, or this worker verifies with the wrong public key:
        # worth a line in the log either way.
        activity.logger.warning(
            "the %s of %s by %s claims to come through the API but its proof does not verify against "
            "%s: recorded as %s",
            record.decision,
            record.deployment_id,
            record.approver,
            self._proofs.public if self._proofs else "no public key",
            ApprovalSource.TEMPORAL.value,
        )
        return ApprovalSource.TEMPORAL
