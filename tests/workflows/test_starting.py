"""Starting deployments: one environment never runs two at once; an attempt that ended
without the store knowing (terminated before it recorded anything) does not block the commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import DeploymentInProgress, StartedDeployment, start_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.workflows.helpers import deploy, runs
from workers.main import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def _start(
    env: WorkflowEnvironment, settings: Settings, store: Store, git: GitMirrors, ref: str | None = None
) -> StartedDeployment:
    return await start_deployment(
        client=env.client,
        settings=settings,
        store=store,
        git=git,
        application="shop",
        environment="staging",
        ref=ref,
    )


async def test_a_second_commit_is_refused_while_one_deploys(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    counters: Path,
) -> None:
    manifest = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            f"echo $LOCKSTEP_COMMIT >> {counters}/db", f"echo $LOCKSTEP_COMMIT >> {counters}/db; sleep 30"
        )
    )
    commit(app_repo, {"lockstep.yaml": manifest}, "slow db")
    first = await _start(temporal_env, settings, store, git)
    while not runs(counters, "db"):
        await asyncio.sleep(0.05)
    again = await _start(temporal_env, settings, store, git)
    assert again.id == first.id and again.existing, "asking again for the same commit returns it"
    commit(app_repo, {"api/api.conf": "version=2\n"}, "next")
    with pytest.raises(DeploymentInProgress) as refused:
        await _start(temporal_env, settings, store, git)
    assert first.id in str(refused.value) and "shop/staging" in str(refused.value)
    handle = temporal_env.client.get_workflow_handle(first.id, result_type=DeploymentResult)
    await handle.cancel()
    assert (await handle.result()).status == DeploymentStatus.CANCELLED


async def test_an_attempt_terminated_before_it_recorded_anything_gets_a_successor(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    git: GitMirrors,
) -> None:
    # No worker yet: the workflow cannot record anything before it is terminated.
    first = await _start(temporal_env, settings, store, git)
    await temporal_env.client.get_workflow_handle(first.id).terminate("operator stopped it")
    async with build_worker(temporal_env.client, settings):
        view = await deploy(temporal_env, settings, store, git)
    assert view.id == f"{first.id}.2"
    assert view.status == DeploymentStatus.SUCCEEDED
