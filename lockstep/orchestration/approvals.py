"""Sending an approval or rejection to a deployment as a Temporal update, and reading the answer.

Owns the translation from Temporal outcomes to Lockstep errors the API and CLI can map: a
refused decision names why (not allowed, duplicate, not awaiting approval), a missing or ended
deployment says so. Who the approver is has been decided by the caller (the API's token).
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from lockstep.domain.approvals import ApprovalAnswer, ApprovalInput, ApprovalSource
from lockstep.domain.errors import LockstepError
from lockstep.domain.ids import is_lane_id
from lockstep.domain.temporal_names import APPROVE, REJECT

_UPDATES = {"approve": APPROVE, "reject": REJECT}  # a decision -> the update that delivers it


class DeploymentNotFound(LockstepError):
    """No such deployment, or it has already ended."""


class DecisionNotDelivered(LockstepError):
    """Temporal did not take the decision (unreachable, overloaded, timed out): try again."""

    retryable = True


class DecisionRefused(LockstepError):
    """The deployment refused the decision; `kind` is not_allowed, duplicate or not_awaiting."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


async def send_decision(
    client: Client,
    deployment_id: str,
    *,
    decision: str,
    approver: str,
    comment: str = "",
    source: ApprovalSource = ApprovalSource.API_TOKEN,
    proof: str = "",
) -> ApprovalAnswer:
    """Run the `approve`/`reject` update; its validator refuses what may not count, before history.

    `proof` (the API's signature, `lockstep.security.approval_signing`) lets the worker record the
    decision as token-authenticated; without it the decision is recorded as a claim from the
    Temporal side.
    """
    if decision not in _UPDATES:
        raise ValueError(decision)
    if is_lane_id(deployment_id):
        raise DeploymentNotFound(f"no running deployment {deployment_id!r}: that is an environment's lane")
    handle = client.get_workflow_handle(deployment_id)
    try:
        answer: ApprovalAnswer = await handle.execute_update(
            _UPDATES[decision],
            ApprovalInput(approver=approver, comment=comment, source=source, proof=proof),
            result_type=ApprovalAnswer,
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if "handler for" in str(cause) and "not found" in str(cause):  # a workflow of another kind
            raise DeploymentNotFound(
                f"no running deployment {deployment_id!r}: it is not a deployment"
            ) from err
        if isinstance(cause, ApplicationError):
            raise DecisionRefused(cause.message, cause.type or "not_allowed") from err
        raise DecisionRefused(str(cause or err), "not_allowed") from err
    except WorkflowUpdateRPCTimeoutOrCancelledError as err:
        raise DecisionNotDelivered(
            f"Temporal did not answer the {decision} of {deployment_id} in time; it may still count: "
            "check `lockstep status` before sending it again"
        ) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise DeploymentNotFound(
                f"no running deployment {deployment_id!r} (unknown, or it has already ended)"
            ) from err
        raise DecisionNotDelivered(f"Temporal refused the {decision} of {deployment_id}: {err}") from err
    return answer
