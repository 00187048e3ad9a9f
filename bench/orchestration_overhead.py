"""Benchmark: what Lockstep's orchestration costs over bare Temporal, same server, same shape.

A 20-component, 5-wave plan (4 independent components per wave, each depending on all 4 of the
previous wave) of no-op `host` components on a `local` target — one small file each, no deploy or
health commands — deployed by the real Deployment workflow: checkout and render, plan against the
store, write-ahead journal, staging, atomic switch, step records, status, search attributes. In the
same run, on the same Temporal dev server (SQLite file, WAL), a bare workflow executes 20 no-op
activities in the same 5 waves of 4. Prints medians and the ratio (target <= 1.2x). Asserts nothing.

Run from the repository root: `.venv/bin/python bench/orchestration_overhead.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.bare_waves import BareWaves, noop
from lockstep import search_attributes as sa
from lockstep.devstack.temporal_server import sqlite_pragma_args, temporal_binary
from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store
from workers.main import build_worker

WAVES, WIDTH = 5, 4
TARGET_RATIO = 1.2


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, best {min(values) * 1000:.0f} ms"


async def server_duration(handle: WorkflowHandle[Any, Any]) -> float:
    """Start to close as the Temporal server recorded it: the same measure for both workflows."""
    description = await handle.describe()
    assert description.close_time is not None
    return (description.close_time - description.start_time).total_seconds()


def manifest() -> str:
    lines = [
        "application: bench",
        "environments:",
        "  - name: staging",
        "    targets: {site: local-bench}",
        '    values: {rev: "0"}',
        "components:",
    ]
    for w in range(WAVES):
        for i in range(WIDTH):
            deps = [f"c{w - 1}-{j}" for j in range(WIDTH)] if w else []
            lines += [
                f"  - name: c{w}-{i}",
                "    target: site",
                f"    depends_on: [{', '.join(deps)}]",
                f"    host: {{files: [{{src: noop/, dest: /srv/c{w}-{i}}}]}}",
            ]
    return "\n".join(lines) + "\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        check=True,
        capture_output=True,
    )


def new_revision(repo: Path, rev: int) -> None:
    """A commit that changes every component, so each deployment plans all 20."""
    (repo / "noop").mkdir(parents=True, exist_ok=True)
    (repo / "noop" / "rev.txt").write_text(f"revision {rev}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"revision {rev}")


async def main(runs: int, database_url: str | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-"))
    repo = work / "bench-app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "lockstep.yaml").write_text(manifest())
    new_revision(repo, 0)

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=list(sa.ALL),
        data_converter=pydantic_data_converter,
        dev_server_database_filename=str(work / "temporal.db"),
        dev_server_extra_args=sqlite_pragma_args(),
    )
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    settings = Settings(
        temporal={"address": env.client.service_client.config.target_host, "task_queue": queue},
        database_url=database_url or f"sqlite:///{work / 'lockstep.db'}",
        state_dir=str(work / "state"),
        repositories=[{"url": str(repo)}],
        targets={"local-bench": {"type": "local", "root": str(work / "target")}},
    )
    store, mirrors = Store.from_url(settings.database_url), GitMirrors(settings.mirrors_dir)
    lockstep_runs: list[float] = []  # server side: workflow start to close
    lockstep_e2e: list[float] = []  # client side: resolve the commit, start, final status
    bare_runs: list[float] = []
    lockstep_worker = build_worker(env.client, settings)
    bare_worker = Worker(env.client, task_queue=queue + "-bare", workflows=[BareWaves], activities=[noop])
    try:
        async with lockstep_worker, bare_worker:
            for rev in range(1, runs + 2):  # the first round warms caches and is not counted
                new_revision(repo, rev)
                started = time.perf_counter()
                deployment = await start_deployment(
                    client=env.client,
                    settings=settings,
                    store=store,
                    git=mirrors,
                    application="bench",
                    environment="staging",
                )
                handle = env.client.get_workflow_handle(deployment.id, result_type=DeploymentResult)
                result = await handle.result()
                e2e = time.perf_counter() - started
                assert result.status == DeploymentStatus.SUCCEEDED, result.error
                lockstep_run = await server_duration(handle)

                bare = await env.client.start_workflow(
                    BareWaves.run,
                    args=[WAVES, WIDTH],
                    id=f"bare-{uuid.uuid4().hex}",
                    task_queue=queue + "-bare",
                )
                assert await bare.result() == WAVES * WIDTH
                bare_run = await server_duration(bare)
                if rev > 1:
                    lockstep_runs.append(lockstep_run)
                    lockstep_e2e.append(e2e)
                    bare_runs.append(bare_run)
    finally:
        await env.shutdown()
    ratio = statistics.median(lockstep_runs) / statistics.median(bare_runs)
    store_kind = settings.database_url.split(":", 1)[0]
    print(
        f"orchestration_overhead: {WAVES * WIDTH} no-op components in {WAVES} waves, {runs} runs each, "
        f"store {store_kind}"
    )
    print(f"  lockstep Deployment workflow (server: start to close): {ms(lockstep_runs)}")
    print(f"  bare workflow, same shape    (server: start to close): {ms(bare_runs)}")
    print(f"  ratio lockstep / bare: {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    print(f"  lockstep end to end (resolve commit, start, final status; client side): {ms(lockstep_e2e)}")
    sys.stdout.flush()
    os._exit(0)  # the SDK can abort at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--database-url", help="the store to use (default: a fresh SQLite file)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.database_url))
