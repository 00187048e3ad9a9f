"""Shared fixtures (a pytest plugin) for tests that run deployments: the Temporal dev server,
settings over temp dirs, a worker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit, three_tier_files
from tests.support.policies import open_window_bundle
from tests.support.temporal import address, start_temporal
from workers.main import build_worker


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_temporal()
    yield env
    await env.shutdown()


@pytest.fixture
def counters(tmp_path: Path) -> Path:
    path = tmp_path / "counters"
    path.mkdir()
    return path


@pytest.fixture
def app_repo(tmp_path: Path, counters: Path) -> Path:
    repo = tmp_path / "shop"
    commit(repo, three_tier_files(counters), "first version")
    return repo


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    return tmp_path / "target"


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment, app_repo: Path, target_root: Path
) -> Settings:
    return Settings(
        temporal={
            "address": address(temporal_env),
            "task_queue": f"test-{uuid.uuid4().hex[:8]}",
            # A worker process a test starts binds no fixed port (tests run side by side), and a
            # test that ends mid-activity does not wait for it (tests/workers shows both).
            "metrics_listen": None,
            "shutdown_timeout": "0s",
        },
        database_url=database_url,
        state_dir=str(tmp_path / "state"),
        repositories=[{"url": str(app_repo), "name": "acme/shop"}],
        targets={"local-test": {"type": "local", "root": str(target_root)}},
        deployment={"heartbeat_timeout": "5s", "command_timeout": "20s"},
        policy={"engine": "embedded", "path": str(open_window_bundle(tmp_path / "policies"))},
    )


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store.from_url(settings.database_url)


@pytest.fixture
def git(settings: Settings) -> GitMirrors:
    return GitMirrors(settings.mirrors_dir)


@pytest_asyncio.fixture
async def worker(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    async with build_worker(temporal_env.client, settings):
        yield
    await terminate_running(temporal_env, settings.temporal.task_queue)


async def terminate_running(env: WorkflowEnvironment, task_queue: str) -> None:
    """Tests share one server and the application name: nothing (deployment or lane) may keep
    running once its worker is gone, or later tests would meet it."""
    query = f'TaskQueue = "{task_queue}" AND ExecutionStatus = "Running"'
    for _ in range(100):  # visibility follows asynchronously: wait until it agrees
        running = [e.id async for e in env.client.list_workflows(query)]
        if not running:
            return
        for workflow_id in running:
            with contextlib.suppress(RPCError):  # it may have closed meanwhile
                await env.client.get_workflow_handle(workflow_id).terminate("test finished")
        await asyncio.sleep(0.1)
