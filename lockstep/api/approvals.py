"""`POST /deployments/{id}/approve|reject`: a release manager's decision, as the authenticated user.

The approver is the user the bearer token maps to, never a name in the body. The decision goes
to the deployment as a Temporal update, so the answer says at once whether it counted: 200 with
the quorum so far, 403 when this user may not decide (not in the environment's groups, the
commit's author), 409 when it cannot count now (already approved by them, not awaiting approval),
404 when no such deployment is running.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel

from lockstep.api.identity import User
from lockstep.domain.approvals import ApprovalAnswer, ApprovalSource, decision_proof
from lockstep.orchestration.approvals import (
    DecisionNotDelivered,
    DecisionRefused,
    DeploymentNotFound,
    send_decision,
)
from lockstep.orchestration.client import LazyClient, TemporalUnavailable

_STATUS = {"not_allowed": 403, "duplicate": 409, "not_awaiting": 409}


class Decision(BaseModel):
    comment: str = ""


def create_approval_router(temporal: LazyClient, user: Callable[..., User]) -> APIRouter:
    router = APIRouter(tags=["approvals"])

    async def decide(deployment_id: str, decision: str, body: Decision, caller: User) -> ApprovalAnswer:
        try:
            return await send_decision(
                await temporal.get(),
                deployment_id,
                decision=decision,
                approver=caller.name,
                comment=body.comment,
                source=ApprovalSource.API_TOKEN,
                proof=decision_proof(
                    caller.token_sha256, deployment_id=deployment_id, decision=decision, approver=caller.name
                ),
            )
        except DecisionRefused as err:
            raise HTTPException(status_code=_STATUS.get(err.kind, 403), detail=str(err)) from err
        except DeploymentNotFound as err:
            raise HTTPException(status_code=404, detail=str(err)) from err
        except (TemporalUnavailable, DecisionNotDelivered) as err:
            raise HTTPException(status_code=503, detail=str(err)) from err

    @router.post("/deployments/{deployment_id}/approve", response_model=ApprovalAnswer)
    async def approve(
        deployment_id: str, body: Decision = Body(default_factory=Decision), caller: User = Depends(user)
    ) -> ApprovalAnswer:
        """Approve a deployment awaiting approval, as the token's user."""
        return await decide(deployment_id, "approve", body, caller)

    @router.post("/deployments/{deployment_id}/reject", response_model=ApprovalAnswer)
    async def reject(
        deployment_id: str, body: Decision = Body(default_factory=Decision), caller: User = Depends(user)
    ) -> ApprovalAnswer:
        """Reject a deployment awaiting approval: it ends `rejected` before any change."""
        return await decide(deployment_id, "reject", body, caller)

    return router
