"""Benchmark: how long after a hand edit the scheduled drift sweep reports it (issue 16).

A real Temporal dev server, a worker (`workers.main.build_worker`) and the drift Schedule as the
worker creates it (`ensure_drift_schedule`) with `drift.interval: 30s`, the shortest allowed. The
demo application (`lockstep dev`'s `shop`: db -> api -> web, `host` components on a `local`
target) is deployed to staging by the real Deployment workflow. Then, ROUNDS times: wait a random
moment (uniform within one interval), append a line to the live `web/index.html` by hand, and poll
what the last sweeps recorded (`drift_views`, what `GET /drift` serves) every POLL seconds until
it lists that file as modified; put the file back and wait until a sweep resolves it.

Prints each latency (with the moment of the edit within the schedule's interval), their maximum,
and the bound it should stay under: the interval plus the longest sweep measured (the DriftSweep
runs the Schedule started, from start to close on the server) plus the polling step.
Asserts nothing about time. Run from the repository root:
`PYTHONPATH=. .venv/bin/python bench/drift_latency.py [--rounds 3] [--seed N] [--quick]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client, ScheduleActionExecutionStartWorkflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from lockstep import search_attributes as sa
from lockstep.devstack.demo import seed_demo_repository
from lockstep.devstack.temporal_server import sqlite_pragma_args, temporal_binary
from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.sweep_messages import DRIFT_SCHEDULE_ID
from lockstep.drift.sweep import drift_views
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.orchestration.drift_sweep import ensure_drift_schedule
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.policies import open_window_bundle
from workers.main import build_worker

INTERVAL_SECONDS = 30  # the shortest `drift.interval` allowed
POLL = 0.1  # seconds between reads of the recorded drift
EDITED = "/srv/shop/web/index.html"  # the file as the manifest maps it
GIVE_UP = 5 * INTERVAL_SECONDS  # a round that sees nothing by then is reported as missed


def settings_for(work: Path, repo: Path, address: str) -> Settings:
    """The demo's server configuration (lockstep.devstack.demo), sweeping every 30 s."""
    return Settings(
        temporal={"address": address, "task_queue": "bench-drift-latency", "metrics_listen": None},
        database_url=f"sqlite:///{work / 'lockstep.db'}",
        state_dir=str(work / "state"),
        repositories=[{"url": str(repo), "name": "demo/shop"}],
        targets={
            "local-staging": {"type": "local", "root": str(work / "targets" / "staging")},
            "local-production": {"type": "local", "root": str(work / "targets" / "production")},
            "k8s-staging": {"type": "kubernetes", "namespace": "shop-staging"},
            "k8s-production": {"type": "kubernetes", "namespace": "shop"},
        },
        policy={"engine": "embedded", "path": str(open_window_bundle(work / "policies"))},
        drift={"interval": f"{INTERVAL_SECONDS}s"},
    )


def edit_open(store: Store) -> bool | None:
    """Whether the last sweep lists the edited file as modified and unresolved; None before any
    sweep of staging was recorded."""
    views = drift_views(store, application="shop", environment="staging")
    if not views or views[0].checked_at is None:
        return None
    return any(i.path == EDITED and i.kind == "modified" and i.resolved_at is None for i in views[0].items)


async def wait_until(check: Callable[[], bool], limit: float) -> float | None:
    """Seconds until `check()` holds (polled every POLL), or None past `limit`."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if check():
            return time.perf_counter() - started
        await asyncio.sleep(POLL)
    return None


async def sweep_durations(client: Client) -> list[float]:
    """Start-to-close seconds of the DriftSweep runs the Schedule started lately (its recent
    actions, read from each run's own record: the visibility listing may lag) that have closed."""
    described = await client.get_schedule_handle(DRIFT_SCHEDULE_ID).describe()
    durations = []
    for taken in described.info.recent_actions:
        if not isinstance(taken.action, ScheduleActionExecutionStartWorkflow):
            continue
        run = await client.get_workflow_handle(
            taken.action.workflow_id, run_id=taken.action.first_execution_run_id
        ).describe()
        if run.close_time is not None:
            durations.append((run.close_time - run.start_time).total_seconds())
    return durations


async def rounds_of_edits(store: Store, live: Path, rounds: int, rng: random.Random) -> list[float | None]:
    """Each round's latency (module docstring); None for a round that was never reported."""
    original = live.read_text()
    latencies: list[float | None] = []
    for n in range(rounds):
        await asyncio.sleep(rng.uniform(0, INTERVAL_SECONDS))
        live.write_text(original + f"<!-- edited by hand, round {n} -->\n")
        phase = time.time() % INTERVAL_SECONDS  # the Schedule's ticks fall on multiples of the interval
        latency = await wait_until(lambda: edit_open(store) is True, GIVE_UP)
        latencies.append(latency)
        tick = INTERVAL_SECONDS - phase  # until the Schedule's next tick
        shown = (
            f"{latency:6.2f} s ({latency - tick:5.2f} s after the next tick)"
            if latency is not None
            else f"not reported within {GIVE_UP} s"
        )
        print(f"  round {n + 1}: edited {phase:5.2f} s into the interval, reported after {shown}")
        live.write_text(original)
        if n + 1 < rounds and await wait_until(lambda: edit_open(store) is False, GIVE_UP) is None:
            print("  (the put-back file was not seen as resolved; stopping)")
            break
    return latencies


def report(latencies: list[float | None], durations: list[float]) -> None:
    seen = [s for s in latencies if s is not None]
    longest = max(durations) if durations else 0.0
    bound = INTERVAL_SECONDS + longest + POLL
    print(f"  latencies: {', '.join(f'{s:.2f}' for s in seen) or '-'} s; missed {len(latencies) - len(seen)}")
    if seen:
        print(f"  max latency {max(seen):.2f} s, mean {statistics.mean(seen):.2f} s")
    median = f"{statistics.median(durations):.2f}" if durations else "-"
    print(f"  sweeps measured: {len(durations)}, duration median {median} s, max {longest:.2f} s")
    verdict = "within" if seen and len(seen) == len(latencies) and max(seen) <= bound else "NOT within"
    print(
        f"  bound: interval {INTERVAL_SECONDS} s + longest sweep {longest:.2f} s + poll {POLL} s = "
        f"{bound:.2f} s: max latency {verdict}"
    )


async def main(rounds: int, seed: int | None) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="drift-latency-bench-") as tmp:
        work = Path(tmp)
        repo = work / "demo" / "shop"
        seed_demo_repository(repo)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            search_attributes=list(sa.ALL),
            data_converter=pydantic_data_converter,
            dev_server_database_filename=str(work / "temporal.db"),
            dev_server_extra_args=sqlite_pragma_args(),
        )
        try:
            settings = settings_for(work, repo, env.client.service_client.config.target_host)
            store = Store.from_url(settings.database_url)
            async with build_worker(env.client, settings):
                deployment = await start_deployment(
                    client=env.client, settings=settings, store=store,
                    git=GitMirrors(settings.mirrors_dir), application="shop", environment="staging",
                )  # fmt: skip
                handle = env.client.get_workflow_handle(deployment.id, result_type=DeploymentResult)
                result = await handle.result()
                if result.status != DeploymentStatus.SUCCEEDED:
                    raise RuntimeError(f"the demo deployment did not succeed: {result.error}")
                await ensure_drift_schedule(env.client, settings)
                print(
                    f"drift_latency: demo app on a local target, drift.interval {INTERVAL_SECONDS}s, "
                    f"{rounds} round(s), polling every {POLL} s"
                )
                live = work / "targets" / "staging" / "srv/shop/web/current/index.html"
                latencies = await rounds_of_edits(store, live, rounds, rng)
                report(latencies, await sweep_durations(env.client))
        finally:
            await env.shutdown()
    sys.stdout.flush()
    os._exit(0)  # the SDK can abort at interpreter exit (sdk-python#300)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="hand edits to time")
    parser.add_argument("--seed", type=int, default=None, help="for the random moments of the edits")
    parser.add_argument("--quick", action="store_true", help="one round")
    args = parser.parse_args()
    asyncio.run(main(1 if args.quick else args.rounds, args.seed))
