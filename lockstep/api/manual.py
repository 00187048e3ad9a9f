"""`POST /deployments`: a manual deployment, through the same environment lane as a webhook.

The actor recorded is the authenticated user, never a name the caller claims; the request is
audited as a `manual_action` (keyed by the deployment it queued, so asking again adds nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from lockstep.api.identity import MALFORMED_BODY, UNAUTHORIZED, User, unavailable, unprocessable
from lockstep.domain.audit import ActorSource
from lockstep.domain.errors import LockstepError
from lockstep.domain.limits import REF_MAX_BYTES
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import resolve_commit
from lockstep.orchestration.manual_actions import record_deploy_request
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.webhooks.dispatch import DeploymentEnqueuer


class DeploymentOrder(BaseModel):
    application: str = Field(min_length=1, max_length=255)
    environment: str = Field(min_length=1, max_length=255)
    ref: str | None = Field(
        default=None,
        max_length=REF_MAX_BYTES,  # characters here; Git's checks count bytes and components
        description="branch, tag or commit; default: the environment's branch",
    )


class DeploymentAccepted(BaseModel):
    id: str
    application: str
    environment: str
    commit: str
    existing: bool


def create_manual_router(
    settings: Settings,
    enqueuer: DeploymentEnqueuer,
    git: GitMirrors,
    user: Callable[..., User],
    store: Store,
) -> APIRouter:
    router = APIRouter(tags=["deployments"])

    @router.post(
        "/deployments",
        status_code=202,
        response_model=DeploymentAccepted,
        responses={
            **MALFORMED_BODY,
            **UNAUTHORIZED,
            **unprocessable("a malformed order, or an unknown application, environment or ref"),
            **unavailable("Git or Temporal cannot be reached now; retry later"),
        },
    )
    async def create_deployment(order: DeploymentOrder, caller: User = Depends(user)) -> DeploymentAccepted:
        """Queue a deployment of an application's ref (default: the environment's branch)."""
        try:
            repository, sha = await asyncio.to_thread(
                resolve_commit, settings, git, order.application, order.environment, order.ref
            )
            enqueued = await enqueuer(
                application=order.application,
                environment=order.environment,
                repository=repository,
                commit=sha,
                trigger="manual",
                actor=caller.name,
            )
        except LockstepError as err:
            raise HTTPException(status_code=503 if err.retryable else 422, detail=str(err)) from err
        await asyncio.to_thread(
            record_deploy_request,
            store,
            actor=caller.name,
            actor_source=ActorSource.API_TOKEN.value,
            deployment_id=enqueued.deployment_id,
            application=order.application,
            environment=order.environment,
            ref=order.ref,
            commit=enqueued.commit,
        )
        return DeploymentAccepted(
            id=enqueued.deployment_id,
            application=order.application,
            environment=enqueued.environment,
            commit=enqueued.commit,
            existing=enqueued.existing,
        )

    return router
