"""`POST /applications/{app}/environments/{env}/rollback`: a rollback on demand, through the lane.

It puts the environment back on what a deployment left live (`lockstep.orchestration.rollbacks`):
a deployment with trigger `rollback`, planned, governed and delivered like any other. The actor
recorded is the authenticated user; the request is audited as a `manual_action` (keyed by the
deployment it queued). 404 for an application or environment no configured repository declares,
409 for a rollback Lockstep refuses (nothing to go back to, a deployment that did not succeed, a
revision that can no longer be rendered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field

from lockstep.api.identity import MALFORMED_BODY, UNAUTHORIZED, ErrorDetail, User, unavailable, unprocessable
from lockstep.api.manual import DeploymentAccepted
from lockstep.domain.audit import ActorSource
from lockstep.domain.errors import LockstepError
from lockstep.domain.rollback_target import ROLLBACK_TRIGGER, RollbackRefused
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.manual_actions import record_rollback_request
from lockstep.orchestration.rollbacks import UnknownEnvironment, prepare_rollback
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.webhooks.dispatch import DeploymentEnqueuer


class RollbackOrderBody(BaseModel):
    to: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="the deployment whose revision to go back to; default: the successful "
        "deployment before the live one",
    )


class RollbackAccepted(DeploymentAccepted):
    to: str = Field(description="the deployment whose revision the rollback puts back")
    nothing_to_roll_back: bool = Field(
        description="that revision is live already: `id` is the live deployment, nothing was queued"
    )


def create_rollback_router(
    settings: Settings,
    enqueuer: DeploymentEnqueuer,
    git: GitMirrors,
    user: Callable[..., User],
    store: Store,
) -> APIRouter:
    router = APIRouter(tags=["deployments"])

    @router.post(
        "/applications/{application}/environments/{environment}/rollback",
        status_code=202,
        response_model=RollbackAccepted,
        responses={
            **MALFORMED_BODY,
            **UNAUTHORIZED,
            404: {"description": "no configured repository declares the application or environment",
                  "model": ErrorDetail},
            409: {"description": "refused: no deployment to go back to, one that did not succeed, or a "
                  "revision that can no longer be rendered", "model": ErrorDetail},
            **unprocessable("a malformed body"),
            **unavailable("Git or Temporal cannot be reached now; retry later"),
        },
    )  # fmt: skip
    async def rollback(
        application: str,
        environment: str,
        order: RollbackOrderBody | None = Body(default=None),
        caller: User = Depends(user),
    ) -> RollbackAccepted:
        """Put the environment back on what a deployment left live (default: the successful
        deployment before the live one), as a deployment with trigger `rollback`."""
        to = order.to if order is not None else None
        try:
            prepared = await asyncio.to_thread(
                prepare_rollback, settings, git, store, application, environment, to
            )
            if prepared.nothing_to_roll_back:
                return RollbackAccepted(
                    id=prepared.live,
                    application=application,
                    environment=environment,
                    commit=prepared.live_commit,
                    existing=True,
                    to=prepared.to,
                    nothing_to_roll_back=True,
                )
            enqueued = await enqueuer(
                application=application,
                environment=environment,
                repository=prepared.repository,
                commit=prepared.commit,
                trigger=ROLLBACK_TRIGGER,
                actor=caller.name,
            )
        except UnknownEnvironment as err:
            raise HTTPException(status_code=404, detail=str(err)) from err
        except RollbackRefused as err:
            raise HTTPException(status_code=409, detail=str(err)) from err
        except LockstepError as err:
            raise HTTPException(status_code=503 if err.retryable else 422, detail=str(err)) from err
        await asyncio.to_thread(
            record_rollback_request,
            store,
            actor=caller.name,
            actor_source=ActorSource.API_TOKEN.value,
            deployment_id=enqueued.deployment_id,
            application=application,
            environment=environment,
            to=prepared.to,
            commit=enqueued.commit,
        )
        return RollbackAccepted(
            id=enqueued.deployment_id,
            application=application,
            environment=enqueued.environment,
            commit=enqueued.commit,
            existing=enqueued.existing,
            to=prepared.to,
            nothing_to_roll_back=False,
        )

    return router
