"""Driving deployments the way the CLI does, and reading what landed on the target."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from lockstep.domain.messages import DeploymentResult, DeploymentView
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.workflows.history_versions import record_history as record_history  # write-once


async def deploy(
    env: WorkflowEnvironment, settings: Settings, store: Store, git: GitMirrors, *, ref: str | None = None
) -> DeploymentView:
    started = await start_deployment(
        client=env.client,
        settings=settings,
        store=store,
        git=git,
        application="shop",
        environment="staging",
        ref=ref,
    )
    result = await env.client.get_workflow_handle(started.id, result_type=DeploymentResult).result()
    with store.session() as session:
        view = find_view(session, started.id)
    assert view is not None, f"deployment {started.id} is not in the store"
    assert view.status == result.status
    return view


def current(root: Path, component: str) -> str | None:
    link = root / "srv" / component / "current"
    return os.path.basename(os.readlink(link)) if link.is_symlink() else None


def runs(counters: Path, component: str) -> list[str]:
    path = counters / component
    return path.read_text().split() if path.exists() else []


async def deployment_result(env: WorkflowEnvironment, deployment_id: str) -> DeploymentResult:
    """The result of a deployment a lane starts: it may still be queued (no workflow yet)."""
    deadline = time.monotonic() + 90
    while True:
        try:
            result: DeploymentResult = await env.client.get_workflow_handle(
                deployment_id, result_type=DeploymentResult
            ).result()
            return result
        except Exception:
            assert time.monotonic() < deadline, f"{deployment_id} never ran"
            await asyncio.sleep(0.2)
