"""The governance stage of the Deployment workflow: policy, approvals, policy again
(docs/approvals.md, policies/README.md).

A mixin of `DeploymentWorkflow`: it owns the `approve`/`reject` signals and updates, the quorum
and the approval timeout, and asks the policy engine (through an activity) at plan time and
again right before the first change. Identity rules live in `lockstep.domain.approvals`; this
module only applies them deterministically. Signals carry a claimed approver name (the Temporal
UI path, trusted through the cluster's access control) and are recorded as such; updates are
validated before they reach history, so a caller learns at once whether its approval counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from lockstep.domain import final_status
    from lockstep.domain.approvals import (
        ApprovalAnswer,
        ApprovalEntry,
        ApprovalGate,
        ApprovalInput,
        ApprovalRecord,
        ApprovalRefused,
        ApprovalSource,
        policy_approvals,
        quorum,
        refusal,
        shown_duration,
        unreachable_quorum,
    )
    from lockstep.domain.final_status import Ending
    from lockstep.domain.messages import DeploymentRequest, DeploymentView, PolicyRequest, PrepareResult
    from lockstep.domain.policy import PolicyDecision
    from lockstep.domain.status import DeploymentStatus
    from lockstep.domain.temporal_names import APPROVE, REJECT
    from workflows.activity_interfaces import GovernanceActivities

_RECORD_TIMEOUT = timedelta(seconds=30)
_MAX_ROUNDS = 5  # policy evaluations after approvals before a policy that keeps asking is a deny
# Patch: a decision that cannot be recorded (the store unreachable for minutes) does not count and
# says so, instead of failing the whole Deployment from a signal handler; a signal whose payload is
# not an approval is recorded as refused instead of being dropped by the SDK.
DECISIONS_NEVER_FAIL = "decisions-never-fail"
# Patch: an approval counts once it is recorded, not before (else the quorum could be met, the
# policy asked and the changes begun on an approval whose recording then failed).
COUNT_WHEN_RECORDED = "count-when-recorded"
_RECORD_RETRIES = RetryPolicy(maximum_attempts=6, maximum_interval=timedelta(seconds=30))
_UNREADABLE = "(unreadable signal)"  # the approver of a payload that is not an approval


class GovernanceStage:
    """State and handlers for approvals; `_govern` runs the stage between planning and deploying."""

    _request: DeploymentRequest
    _view: DeploymentView

    def _init_governance(self) -> None:
        self._gate: ApprovalGate | None = None  # set when approvals are awaited
        self._required = 0
        self._approved_by: list[str] = []
        self._recording: list[str] = []  # approvals being recorded: counted once they are
        self._rejection: tuple[str, str] | None = None  # (who, comment)
        self._deadline: datetime | None = None  # when waiting for approvals ends `rejected`
        self._decisions = 0
        self._entries: list[ApprovalEntry] = []  # every decision, counted or not: the view's approvals
        self._changes: asyncio.Task[None] | None = None  # the waves, cancelled by a late rejection

    # -- handlers --------------------------------------------------------------------------------

    # The signals take the raw payload: the SDK drops a signal it cannot convert without a trace,
    # and an approval someone sent must leave one, in the audit trail.

    @workflow.signal(name=APPROVE)
    async def approve_signal(self, request: RawValue) -> None:
        """`{"approver": "...", "comment": "..."}`, e.g. from the Temporal UI: the name is as claimed."""
        await self._signalled("approve", request)

    @workflow.signal(name=REJECT)
    async def reject_signal(self, request: RawValue) -> None:
        await self._signalled("reject", request)

    @workflow.update(name=APPROVE)
    async def approve_update(self, request: ApprovalInput) -> ApprovalAnswer:
        """Approve; refused before it reaches history when it may not count (and says why)."""
        return await self._decide("approve", request)

    @approve_update.validator
    def _validate_approve(self, request: ApprovalInput) -> None:
        self._validate("approve", request)

    @workflow.update(name=REJECT)
    async def reject_update(self, request: ApprovalInput) -> ApprovalAnswer:
        """Reject: before any change the deployment ends `rejected`; while it deploys, what it
        changed is rolled back first."""
        return await self._decide("reject", request)

    @reject_update.validator
    def _validate_reject(self, request: ApprovalInput) -> None:
        self._validate("reject", request)

    def _refusal(self, decision: str, request: ApprovalInput) -> ApprovalRefused | None:
        return refusal(
            self._gate,
            request,
            decision=decision,
            deployment_id=self._request.deployment_id,
            environment=self._request.environment,
            status=self._view.status,
            changing=self._changes is None or not self._changes.done(),  # the waves have not ended
            rejected=self._rejection is not None,
            approved_by=self._approved_by,
            recording=self._recording,
            required=self._required,
        )

    def _validate(self, decision: str, request: ApprovalInput) -> None:
        refused = self._refusal(decision, request)
        if refused is not None:
            raise ApplicationError(str(refused), type=refused.kind, non_retryable=True)

    async def _signalled(self, decision: str, raw: RawValue) -> None:
        # Whatever the payload says, a signal's identity is the claimed name: Temporal ACLs vouch.
        # One that cannot count now (too early, too late, not a member) is still recorded.
        try:
            request = workflow.payload_converter().from_payload(raw.payload, ApprovalInput)
        except Exception as err:
            if not workflow.patched(DECISIONS_NEVER_FAIL):
                workflow.logger.warning("dropped an unreadable %s signal: %s", decision, err)
                return
            await self._record_unreadable(decision, err)
            return
        claimed = request.model_copy(update={"source": ApprovalSource.TEMPORAL, "proof": ""})
        await self._apply(decision, claimed)

    async def _record_unreadable(self, decision: str, err: Exception) -> None:
        """Record a signal whose payload is not an approval as a refused decision."""
        # The error's own lines, without the library's links; control characters shown escaped.
        lines = [line for line in str(err).splitlines() if "errors.pydantic.dev" not in line]
        detail = repr(" ".join(line.strip() for line in lines))[1:-1]
        reason = f"the {decision} signal's payload is not an approval: {detail}"[:1000]
        self._decisions += 1
        at = workflow.now().isoformat()
        self._entries.append(
            ApprovalEntry(
                approver=_UNREADABLE,
                decision=decision,
                at=at,
                comment="",
                source=ApprovalSource.TEMPORAL.value,
                counted=False,
                reason=reason,
            )
        )
        r = self._request
        try:
            await workflow.execute_local_activity_method(
                GovernanceActivities.record_approval,
                ApprovalRecord(
                    deployment_id=r.deployment_id,
                    application=r.application,
                    environment=r.environment,
                    approver=_UNREADABLE,
                    decision=decision,
                    source=ApprovalSource.TEMPORAL,
                    counted=False,
                    reason=reason,
                    at=at,
                    sequence=self._decisions,
                ),
                start_to_close_timeout=_RECORD_TIMEOUT,
                retry_policy=_RECORD_RETRIES,
            )
        except (ActivityError, ApplicationError) as failed:  # a local activity's failure is either
            workflow.logger.warning("could not record an unreadable %s signal: %s", decision, _cause(failed))

    async def _decide(self, decision: str, request: ApprovalInput) -> ApprovalAnswer:
        # Validators of updates in one activation all run before any handler: check again.
        refused = self._refusal(decision, request)
        if refused is not None:
            raise ApplicationError(str(refused), type=refused.kind, non_retryable=True)
        # An update may come from any Temporal client: only a proof the activity verifies makes it
        # an API (token) decision in the record.
        source = ApprovalSource.API_TOKEN if request.proof else ApprovalSource.TEMPORAL
        return await self._apply(decision, request.model_copy(update={"source": source}))

    async def _apply(self, decision: str, request: ApprovalInput) -> ApprovalAnswer:
        refused = self._refusal(decision, request)
        name = request.approver.strip()
        later = refused is None and decision == "approve" and workflow.patched(COUNT_WHEN_RECORDED)
        if refused is None:
            if later:
                self._recording.append(name)
            elif decision == "approve":
                self._approved_by.append(name)
            else:
                self._rejection = (name, request.comment)
                if self._changes is not None and not self._changes.done():
                    self._changes.cancel()  # compensation follows in DeploymentWorkflow._deploy
        self._decisions += 1
        at = workflow.now().isoformat()
        entry = len(self._entries)  # its place in the list: decisions are only ever appended
        self._entries.append(
            ApprovalEntry(
                approver=name,
                decision=decision,
                at=at,
                comment=request.comment,
                source=request.source.value,
                counted=refused is None,
                reason=str(refused) if refused else "",
            )
        )
        r = self._request
        record = ApprovalRecord(
            deployment_id=r.deployment_id,
            application=r.application,
            environment=r.environment,
            approver=name,
            decision=decision,
            comment=request.comment,
            source=request.source,
            counted=refused is None,
            reason=str(refused) if refused else "",
            at=at,
            sequence=self._decisions,
            proof=request.proof,
        )
        if not workflow.patched(DECISIONS_NEVER_FAIL):
            recorded: str = await workflow.execute_local_activity_method(
                GovernanceActivities.record_approval, record, start_to_close_timeout=_RECORD_TIMEOUT
            )
        else:
            try:
                recorded = await workflow.execute_local_activity_method(
                    GovernanceActivities.record_approval,
                    record,
                    start_to_close_timeout=_RECORD_TIMEOUT,
                    retry_policy=_RECORD_RETRIES,
                )
            except (ActivityError, ApplicationError) as err:  # a local activity's failure is either
                if later:
                    self._recording.remove(name)
                    return self._unrecorded(decision, name, entry, err, counted_yet=False)
                return self._unrecorded(decision, name, entry, err)
        if later:  # recorded: now it counts
            self._recording.remove(name)
            self._approved_by.append(name)
        # What the worker could verify, not what the payload claimed.
        self._entries[entry] = replace(self._entries[entry], source=recorded)
        if refused is not None:
            message = str(refused)
        elif decision == "reject":
            message = f"rejected by {name}"
        else:
            message = f"approval {len(self._approved_by)} of {self._required} from {name}"
        return ApprovalAnswer(
            counted=refused is None,
            decision=decision,
            approvals=len(self._approved_by),
            required=self._required,
            status=self._view.status.value,
            message=message,
        )

    def _unrecorded(
        self, decision: str, name: str, entry: int, err: Exception, *, counted_yet: bool = True
    ) -> ApprovalAnswer:
        """A decision the store could not take (`entry`, its place in the list): an approval
        missing from the audit trail must not count, so it is withdrawn."""
        cause = _cause(err)
        was = self._entries[entry]
        now = self._entries[entry] = was.unrecorded(cause)
        if was.counted and not now.counted and counted_yet:
            # Before `count-when-recorded` it counted at once: withdraw it (its latest count).
            self._approved_by.reverse()
            self._approved_by.remove(name)
            self._approved_by.reverse()
        workflow.logger.warning("the %s by %s could not be recorded: %s", decision, name, cause)
        return ApprovalAnswer(
            counted=now.counted,
            decision=decision,
            approvals=len(self._approved_by),
            required=self._required,
            status=self._view.status.value,
            message=now.reason,
        )

    # -- the stage -------------------------------------------------------------------------------

    async def _govern(self, prepared: PrepareResult) -> Ending | None:
        """Policy, approvals, policy again; the final status and reason if the deployment ends here.

        When the second evaluation asks for more approvals than were given (a policy may depend on
        the approvals or the time), the deployment waits for them too, within the same timeout.
        """
        gate = prepared.gate
        decision = await self._evaluate(prepared, "plan")
        if decision.denied:
            return final_status.policy_denied(decision.deny, after_approval=False)
        self._view.policy_warnings = list(decision.warn)
        self._required = quorum(gate, decision.approvals_required)
        for round_ in range(1, _MAX_ROUNDS + 1):
            self._view.approvals_required = self._required
            if self._rejection is not None:  # counted while policy was being asked
                return self._rejected()
            if self._required <= len(self._approved_by):
                return None
            impossible = unreachable_quorum(gate, self._required, environment=self._request.environment)
            if impossible is not None:  # fail fast: waiting until the timeout could not help
                return final_status.quorum_unreachable(impossible)
            ended = await self._await_approvals(gate)
            if ended is not None:
                return ended
            stage = "approved" if round_ == 1 else f"approved-{round_}"
            decision = await self._evaluate(prepared, stage)
            if decision.denied:
                return final_status.policy_denied(decision.deny, after_approval=True)
            self._view.policy_warnings = sorted(set(self._view.policy_warnings) | set(decision.warn))
            self._required = max(self._required, quorum(gate, decision.approvals_required))
        return final_status.policy_kept_raising(self._required)

    async def _evaluate(self, prepared: PrepareResult, stage: str) -> PolicyDecision:
        r = self._request
        approvals = policy_approvals(self._entries, self._recording)
        try:
            decision: PolicyDecision = await workflow.execute_activity_method(
                GovernanceActivities.evaluate_policy,
                PolicyRequest(
                    deployment_id=r.deployment_id,
                    application=r.application,
                    environment=r.environment,
                    commit=prepared.commit,
                    trigger=r.trigger,
                    actor=r.actor,
                    actor_source=r.actor_source,
                    plan=prepared.plan,
                    approvals=approvals,
                    stage=stage,
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError as err:  # fail closed: no decision is a deny
            if is_cancelled_exception(err):
                raise
            cause = err.cause or err
            return PolicyDecision(
                deny=[f"policy evaluation failed: {cause}"],
                warn=[],
                approvals_required=0,
                engine="unknown",
                bundle_revision="",
                input_sha256="",
            )
        return decision

    async def _await_approvals(self, gate: ApprovalGate) -> Ending | None:
        self._gate = gate
        if self._deadline is None:  # one timeout for every round of approvals
            self._deadline = workflow.now() + timedelta(seconds=gate.timeout_seconds)
        if self._view.status != DeploymentStatus.AWAITING_APPROVAL:
            await self._set_status(DeploymentStatus.AWAITING_APPROVAL)
        workflow.set_current_details(
            f"awaiting {self._required} approval(s) from {', '.join(gate.groups)} "
            f"within {shown_duration(gate.timeout_seconds)}"
        )

        def decided() -> bool:
            return self._rejection is not None or len(self._approved_by) >= self._required

        def timed_out() -> Ending:
            return final_status.approvals_timed_out(
                given=len(self._approved_by), required=self._required, timeout_seconds=gate.timeout_seconds
            )

        remaining = (self._deadline - workflow.now()).total_seconds()
        try:
            if remaining <= 0 and not decided():
                return timed_out()
            await workflow.wait_condition(decided, timeout=timedelta(seconds=max(remaining, 0.001)))
        except TimeoutError:
            # The timer may fire in the same activation as the deciding signal or update, which
            # the SDK applies first: the decision wins over the timeout.
            if not decided():
                return timed_out()
        finally:
            workflow.set_current_details("")
        return self._rejected() if self._rejection is not None else None

    def _rejected(self) -> Ending:
        """The final status and reason of a counted rejection."""
        assert self._rejection is not None
        return final_status.rejected(*self._rejection)

    async def _set_status(self, status: DeploymentStatus, error: str | None = None) -> None:
        raise NotImplementedError  # provided by DeploymentWorkflow


def _cause(err: BaseException) -> str:  # the innermost cause names the problem
    while isinstance(err, ActivityError) and err.cause is not None:
        err = err.cause
    return str(err)[:500] or type(err).__name__
