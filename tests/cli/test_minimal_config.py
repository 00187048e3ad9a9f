"""A server configuration holding only what docs/configuration.md requires drives plan, deploy and status.

No `state_dir`, no `database_url`, no policy path: every default is relative (`.lockstep/…`), the
target's root is relative too, and each command runs from a folder other than the one holding the
file. Real processes (`python -m lockstep`), a real Git repository, the real Temporal dev server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.cli.conftest import Cli
from tests.support.apprepo import commit, three_tier_files
from tests.support.fixtures import terminate_running
from tests.support.temporal import address


def write_minimal_config(folder: Path, repo: Path, temporal: str, task_queue: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "lockstep-server.yaml"
    config.write_text(
        f'temporal: {{address: "{temporal}", task_queue: {task_queue}}}\n'
        f"repositories: [{{url: {json.dumps(str(repo))}}}]\n"
        "targets: {local-test: {type: local, root: targets/site}}\n"
    )
    return config


@pytest.fixture
def app(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    counters = tmp_path / "counters"
    counters.mkdir()
    commit(repo, three_tier_files(counters), "first version")
    return repo


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """The working directory of every command: not the config file's folder."""
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


async def test_plan_with_a_minimal_config_from_another_folder(
    tmp_path: Path, app: Path, elsewhere: Path
) -> None:
    etc = tmp_path / "etc"
    cli = Cli(config=write_minimal_config(etc, app, "127.0.0.1:7233", "lockstep"), cwd=elsewhere)

    result = await cli("plan", str(app), "--env", "staging", "--output", "json")

    assert result.code == 0, result.stderr
    [plan] = json.loads(result.stdout)
    assert plan["plan"]["waves"] == [["db"], ["api"], ["web"]]
    # The mirror went beside the config file, nothing into the working directory; a preview
    # creates no database (there is none yet: nothing was ever deployed); the one it looked for
    # is beside the config file too.
    assert f"no database at {etc / '.lockstep' / 'lockstep.db'}" in result.stderr
    assert any((etc / ".lockstep" / "mirrors").iterdir())
    assert not (etc / ".lockstep" / "lockstep.db").exists()
    assert list(elsewhere.iterdir()) == []


@contextlib.asynccontextmanager
async def lockstep_worker(config: Path, cwd: Path, log: Path) -> AsyncIterator[None]:
    """`lockstep worker` as its own process, as an operator would start it."""
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lockstep",
            "worker",
            cwd=cwd,
            env={**os.environ, "LOCKSTEP_CONFIG": str(config)},
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            yield
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@pytest_asyncio.fixture
async def temporal(temporal_env: WorkflowEnvironment) -> str:
    return address(temporal_env)


@pytest.mark.temporal
async def test_deploy_and_status_with_a_minimal_config(
    tmp_path: Path, app: Path, elsewhere: Path, temporal: str, temporal_env: WorkflowEnvironment
) -> None:
    task_queue = f"test-{uuid.uuid4().hex[:8]}"
    try:
        await _deploy_and_status(tmp_path, app, elsewhere, temporal, task_queue)
    finally:
        # The lane (shop.staging.lane) outlives its deployment: left running with no worker, it
        # would swallow the next test's deployments of shop to staging on this shared server.
        await terminate_running(temporal_env, task_queue)


async def _deploy_and_status(
    tmp_path: Path, app: Path, elsewhere: Path, temporal: str, task_queue: str
) -> None:
    etc = tmp_path / "etc"
    config = write_minimal_config(etc, app, temporal, task_queue)
    cli = Cli(config=config, cwd=elsewhere)
    worker_folder = tmp_path / "worker-cwd"  # the worker starts from yet another folder
    worker_folder.mkdir()

    async with lockstep_worker(config, worker_folder, tmp_path / "worker.log"):
        deployed = await cli("deploy", "shop", "--env", "staging", "--wait", "--output", "json")
        assert deployed.code == 0, deployed.stderr + (tmp_path / "worker.log").read_text()
        deployment = json.loads(deployed.stdout)
        assert deployment["status"] == "succeeded"

        status = await cli("status", deployment["id"], "--output", "json")
        assert status.code == 0, status.stderr
        assert json.loads(status.stdout)["status"] == "succeeded"

    # The relative target root, too, was taken against the config file's folder by the worker.
    current = etc / "targets" / "site" / "srv" / "web" / "current"
    assert current.resolve().name == deployment["commit"]
    assert list(elsewhere.iterdir()) == [] and list(worker_folder.iterdir()) == []
