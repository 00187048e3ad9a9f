"""`GET /drift`: what the last drift sweep recorded per environment (docs/drift.md).

Read like `GET /deployments` (a bearer token unless `api.anonymous_read`), filtered by
application and environment. Starting a sweep is deliberately not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Query

from lockstep.domain.drift import EnvironmentDrift
from lockstep.drift.sweep import drift_views
from lockstep.store.engine import Store


def create_drift_router(
    store: Store, readers: Sequence[Any], read_responses: dict[int | str, dict[str, Any]]
) -> APIRouter:
    router = APIRouter(tags=["drift"])

    @router.get(
        "/drift",
        response_model=list[EnvironmentDrift],
        dependencies=list(readers),
        responses=read_responses,
    )
    def get_drift(
        app_: str | None = Query(None, alias="app"), env: str | None = None
    ) -> list[EnvironmentDrift]:
        """Each environment's state after the last sweep (in_sync, drifted or unknown with the
        reason), its pending commits, and its open drift items."""
        return drift_views(store, application=app_, environment=env)

    return router
