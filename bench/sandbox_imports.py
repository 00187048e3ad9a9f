"""Benchmark: what Temporal's workflow sandbox costs Lockstep per workflow run.

The sandbox re-imports every module a workflow file imports outside
`workflow.unsafe.imports_passed_through()`, once per run it instantiates (a new deployment, a
lane's continue-as-new, a worker that takes over a run from its history). Since issue 13 the
workflow modules (`workflows.deployment`, `workflows.governance`, `workflows.lane`)
are re-imported that way, so the sandbox checks them; the activity interfaces and
`lockstep.domain` stay passed through. This replays saved histories through
`temporalio.worker.Replayer` (the same sandboxed runner a worker uses, no server) and prints the
median time per replay: run it on two checkouts to compare. Asserts nothing.

Run from the repository root: `.venv/bin/python bench/sandbox_imports.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.deployment import DeploymentWorkflow
from workflows.lane import EnvironmentLane

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"
NAMES = ("deployment-succeeded", "deployment-approved", "lane-signalled")


def find(name: str) -> Path:
    """A saved history by name, wherever the version layout of tests/histories keeps it."""
    found = sorted(HISTORIES.rglob(f"{name}.json"))
    if not found:
        raise SystemExit(f"no history named {name} under {HISTORIES}")
    return found[-1]


async def main(runs: int) -> None:
    replayer = Replayer(
        workflows=[DeploymentWorkflow, EnvironmentLane], data_converter=pydantic_data_converter
    )
    print(f"{runs} replays each, sandboxed as a worker runs them")
    for name in NAMES:
        path = find(name)
        history = WorkflowHistory.from_json(name, path.read_text())
        durations: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            await replayer.replay_workflow(history)
            durations.append(time.perf_counter() - started)
        median, best, first = (statistics.median(durations), min(durations), durations[0])
        print(
            f"{name:24} {len(history.events):4} events: median {median * 1000:6.1f} ms, "
            f"best {best * 1000:6.1f} ms, first {first * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="replays per history (1 to 1000)")
    args = parser.parse_args()
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be between 1 and 1000")
    asyncio.run(main(args.runs))
