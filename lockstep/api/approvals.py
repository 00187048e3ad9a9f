"""`POST /deployments/{id}/approve|reject`: a release manager's decision, as the authenticated user.

The approver is the user the bearer token maps to, never a name in the body. The decision goes
to the deployment as a Temporal update, so the answer says at once whether it counted: 200 with
the quorum so far, 403 when this user may not decide (not in the environment's groups, the
commit's author), 409 when it cannot count now (already approved by them, not awaiting approval),
404 when no such deployment is running. The update carries the API's signature over the decision
(`lockstep.security.approval_signing`), so the worker records it as token-authenticated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field

from lockstep.api.identity import MALFORMED_BODY, UNAUTHORIZED, User
from lockstep.domain.approvals import COMMENT_PATTERN, ApprovalAnswer, ApprovalSource
from lockstep.orchestration.approvals import (
    DecisionNotDelivered,
    DecisionRefused,
    DeploymentNotFound,
    send_decision,
)
from lockstep.orchestration.client import LazyClient, TemporalUnavailable
from lockstep.security.approval_signing import ApprovalSigner, SigningKeyError

_STATUS = {"not_allowed": 403, "duplicate": 409, "not_awaiting": 409}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **MALFORMED_BODY,
    **UNAUTHORIZED,
    403: {"description": "this user may not decide: not in the environment's groups, or its author"},
    404: {"description": "no such deployment is running"},
    409: {"description": "cannot count now: already approved by this user, or not awaiting approval"},
    503: {"description": "Temporal did not take the decision, or the signing key is unusable"},
}


class Decision(BaseModel):
    # As the decision itself will check it: a refused comment is a 422 here, not a 500 later.
    comment: str = Field(default="", max_length=4096, pattern=COMMENT_PATTERN)


def create_approval_router(
    temporal: LazyClient, user: Callable[..., User], signer: Callable[[], ApprovalSigner]
) -> APIRouter:
    """`signer` gives the API's signing key (made on first use when `lockstep api` did not)."""
    router = APIRouter(tags=["approvals"])

    async def decide(deployment_id: str, decision: str, body: Decision, caller: User) -> ApprovalAnswer:
        try:
            proof = signer().sign(deployment_id=deployment_id, decision=decision, approver=caller.name)
            return await send_decision(
                await temporal.get(),
                deployment_id,
                decision=decision,
                approver=caller.name,
                comment=body.comment,
                source=ApprovalSource.API_TOKEN,
                proof=proof,
            )
        except DecisionRefused as err:
            raise HTTPException(status_code=_STATUS.get(err.kind, 403), detail=str(err)) from err
        except DeploymentNotFound as err:
            raise HTTPException(status_code=404, detail=str(err)) from err
        except (TemporalUnavailable, DecisionNotDelivered, SigningKeyError) as err:
            raise HTTPException(status_code=503, detail=str(err)) from err

    @router.post("/deployments/{deployment_id}/approve", response_model=ApprovalAnswer, responses=_RESPONSES)
    async def approve(
        deployment_id: str, body: Decision = Body(default_factory=Decision), caller: User = Depends(user)
    ) -> ApprovalAnswer:
        """Approve a deployment awaiting approval, as the token's user."""
        return await decide(deployment_id, "approve", body, caller)

    @router.post("/deployments/{deployment_id}/reject", response_model=ApprovalAnswer, responses=_RESPONSES)
    async def reject(
        deployment_id: str, body: Decision = Body(default_factory=Decision), caller: User = Depends(user)
    ) -> ApprovalAnswer:
        """Reject a deployment awaiting approval: it ends `rejected` before any change."""
        return await decide(deployment_id, "reject", body, caller)

    return router
