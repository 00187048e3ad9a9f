"""`POST /drift/sweep`: run the drift sweep now, as an authenticated user.

Starts one DriftSweep workflow beside the schedule (`lockstep.orchestration.drift_sweep`): 202
with its workflow id, or with `?wait=true` 200 with its result once every environment has been
compared (state, reason, item and pending counts per environment). 503 when Temporal cannot be
reached, or the sweep did not finish.

Deliberately does not: list drift items (`GET /drift` reads them from the store), nor wait for a
scheduled sweep: each request starts its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from lockstep.api.identity import UNAUTHORIZED, User, unavailable
from lockstep.domain.sweep_messages import SweepResult
from lockstep.orchestration.client import LazyClient, TemporalUnavailable
from lockstep.orchestration.drift_sweep import start_sweep
from lockstep.settings import Settings

log = logging.getLogger("lockstep.api")


class SweepStarted(BaseModel):
    id: str = Field(description="the sweep's workflow id (lockstep-drift-sweep-now-<uuid>)")
    result: SweepResult | None = Field(
        default=None, description="with wait=true: per environment its state, reason and counts"
    )


def create_drift_sweep_router(
    settings: Settings, temporal: LazyClient, user: Callable[..., User]
) -> APIRouter:
    router = APIRouter(tags=["drift"])

    @router.post(
        "/drift/sweep",
        status_code=202,
        response_model=SweepStarted,
        responses={
            200: {"description": "with wait=true: the sweep ended; its result", "model": SweepStarted},
            **UNAUTHORIZED,
            **unavailable("Temporal cannot be reached, or the sweep did not finish"),
        },
    )
    async def sweep(
        response: Response,
        wait: bool = Query(False, description="answer once the sweep has compared every environment"),
        caller: User = Depends(user),
    ) -> SweepStarted:
        """Compare every deployed environment's live state with what Lockstep deployed, now."""
        try:
            handle = await start_sweep(await temporal.get(), settings)
        except (TemporalUnavailable, RPCError) as err:
            raise HTTPException(status_code=503, detail=f"cannot start the sweep: {err}") from err
        log.info("drift sweep %s asked for by %s", handle.id, caller.name)
        if not wait:
            return SweepStarted(id=handle.id)
        try:
            result = await handle.result()
        except (WorkflowFailureError, RPCError) as err:
            detail = f"the sweep {handle.id} did not finish: {err}"
            raise HTTPException(status_code=503, detail=detail) from err
        response.status_code = 200
        return SweepStarted(id=handle.id, result=result)

    return router
