"""FastAPI app factory: health, readiness, read-only deployment and drift endpoints and the webhooks.

Webhooks authenticate by their signature (`lockstep.api.webhooks`); every other endpoint but the
health probes needs a bearer token (`lockstep.api.identity`), reads included unless
`api.anonymous_read`. What the reads show has the secrets this process knows masked
(`lockstep.security.known_secrets`): a worker that did not know a value stored it as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query
from sqlalchemy import text
from sqlmodel import Session
from temporalio.service import RPCError

from lockstep import __version__
from lockstep.api.approvals import create_approval_router
from lockstep.api.body_limit import BodyLimit
from lockstep.api.drift import create_drift_router
from lockstep.api.drift_sweep import create_drift_sweep_router
from lockstep.api.identity import bearer_dependency, read_dependencies
from lockstep.api.manual import create_manual_router
from lockstep.api.rollback import create_rollback_router
from lockstep.api.webhooks import TemporalEnqueuer, create_webhook_router
from lockstep.domain.messages import DeploymentView
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.client import RPC_TIMEOUT, LazyClient, TemporalUnavailable
from lockstep.orchestration.views import find_view, list_views
from lockstep.security.approval_signing import ApprovalSigner, key_files
from lockstep.security.known_secrets import masker_for
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.webhooks.dispatch import DeploymentEnqueuer


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    enqueuer: DeploymentEnqueuer | None = None,
    signer: ApprovalSigner | None = None,
) -> FastAPI:
    """The API; webhooks queue deployments through `enqueuer` (default: the environment lanes on
    the configured Temporal, connected on the first delivery that needs it). Approvals are signed
    with `signer` (default: the configured key, read or created on the first approval)."""
    store = store or Store.from_url(settings.database_url)
    git = GitMirrors(settings.mirrors_dir)
    app = FastAPI(
        title="Lockstep",
        version=__version__,
        description="GitOps deployments on Temporal: deployments, approvals and Git webhooks. "
        "How to authenticate, errors and limits: docs/api.md.",
    )
    app.add_middleware(BodyLimit)  # before a token is checked, FastAPI reads the body: cap it

    temporal = LazyClient(settings.temporal)  # one connection for readiness and approvals

    def session() -> Iterator[Session]:
        with store.session() as s:
            yield s

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=_NOT_READY)
    async def readyz() -> dict[str, str]:
        """The database and Temporal answer; 503 naming what does not."""
        problems: dict[str, str] = {}
        try:
            with store.session() as s:
                s.execute(text("SELECT 1"))
        except Exception as err:  # any driver error means not ready
            problems["database"] = type(err).__name__
        try:
            # The SDK bounds both (connect: CONNECT_TIMEOUT, then its own 30 s for a server that
            # accepts but does not answer; the check: RPC_TIMEOUT), so no call is left running.
            serving = await (await temporal.get()).service_client.check_health(timeout=RPC_TIMEOUT)
            if not serving:
                problems["temporal"] = f"{settings.temporal.address} is up but not serving"
        except TemporalUnavailable as err:
            problems["temporal"] = str(err)
        except RPCError as err:
            problems["temporal"] = f"{settings.temporal.address} did not answer: {err.message}"
        if problems:
            raise HTTPException(status_code=503, detail={"status": "not ready", **problems})
        return {"status": "ready"}

    readers, read_responses = read_dependencies(settings)

    @app.get(
        "/deployments",
        response_model=list[DeploymentView],
        tags=["deployments"],
        dependencies=readers,
        responses=read_responses,
    )
    def get_deployments(
        app_: str | None = Query(None, alias="app"),
        env: str | None = None,
        status: DeploymentStatus | None = None,
        limit: int = Query(100, ge=1, le=1000),
        s: Session = Depends(session),
    ) -> list[DeploymentView]:
        """Deployments, newest first, filtered by application, environment and status."""
        return list_views(
            s,
            application=app_,
            environment=env,
            status=status.value if status else None,
            limit=limit,
            masker=masker_for(settings),
        )

    @app.get(
        "/deployments/{deployment_id}",
        response_model=DeploymentView,
        tags=["deployments"],
        dependencies=readers,
        responses={**read_responses, 404: {"description": "no such deployment"}},
    )
    def get_deployment(deployment_id: str, s: Session = Depends(session)) -> DeploymentView:
        """One deployment with its plan, steps per host and approvals."""
        view = find_view(s, deployment_id, masker=masker_for(settings))
        if view is None:
            raise HTTPException(status_code=404, detail=f"no deployment {deployment_id!r}")
        return view

    app.include_router(create_drift_router(store, readers, read_responses))

    enqueuer = enqueuer or TemporalEnqueuer(settings=settings, store=store)
    app.include_router(create_webhook_router(settings, enqueuer, git))
    user = bearer_dependency(settings)
    app.include_router(create_manual_router(settings, enqueuer, git, user, store))
    app.include_router(create_rollback_router(settings, enqueuer, git, user, store))
    app.include_router(create_approval_router(temporal, user, _lazy_signer(settings, signer)))
    app.include_router(create_drift_sweep_router(settings, temporal, user))
    return app


# What /readyz answers when a dependency does not: the names of those that do not, and why.
_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "not ready: the detail names the database or Temporal, or both, and why"}
}


def _lazy_signer(settings: Settings, signer: ApprovalSigner | None) -> Callable[[], ApprovalSigner]:
    # Read (or created) on the first approval, not when the app is built: an app built in a test
    # or a script writes no key into the working folder. `lockstep api` loads it at start.
    loaded = [signer] if signer else []

    def get() -> ApprovalSigner:
        if not loaded:
            loaded.append(ApprovalSigner.load_or_create(*key_files(settings)))
        return loaded[0]

    return get
