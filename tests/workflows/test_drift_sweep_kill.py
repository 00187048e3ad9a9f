"""Killing the worker process mid-sweep: another worker finishes the sweep, comparing again only
the environment whose activity was running, and the result covers every environment."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.sweep_messages import SweepInput, SweepResult
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.drift_fakes import FakeComparison, sweep_worker
from tests.support.fixtures import terminate_running
from tests.support.temporal import address
from workflows.drift import DriftSweep

pytestmark = [pytest.mark.temporal, pytest.mark.store]

REPO = "https://git.example.com/acme/shop.git"
_CHECKOUT = str(Path(__file__).resolve().parents[2])


async def _completed(handle: WorkflowHandle[DriftSweep, SweepResult]) -> int:
    history = await handle.fetch_history()
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)


async def _heartbeat(handle: WorkflowHandle[DriftSweep, SweepResult]) -> str:
    """The running activity's latest heartbeat, once it has sent one."""
    for _ in range(300):
        pending = (await handle.describe()).raw_description.pending_activities
        if pending and pending[0].heartbeat_details.payloads:
            [details] = await pydantic_data_converter.decode(pending[0].heartbeat_details.payloads)
            return str(details)
        await asyncio.sleep(0.1)
    pytest.fail("no heartbeat from the running comparison")


async def test_a_sweep_survives_its_worker_being_killed(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    calls.touch()
    task_queue = settings.temporal.task_queue
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.drift_worker_process", address(temporal_env), task_queue,
         settings.database_url, str(calls)],
        env={**os.environ, "PYTHONPATH": _CHECKOUT},
        start_new_session=True,
    )  # fmt: skip
    try:
        handle = await temporal_env.client.start_workflow(
            DriftSweep.run,
            SweepInput(concurrency=4, heartbeat_seconds=2, timeout_seconds=60),
            id=f"drift-sweep-kill-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
        )
        # The listing and three environments completed; env1 runs on.
        for _ in range(600):
            if await _completed(handle) == 4 and "env1" in calls.read_text().split():
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"the first worker did not get that far: {calls.read_text()!r}")
        assert "reading env1" in await _heartbeat(handle)  # its progress is what it heartbeats
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

        comparison = FakeComparison(environments=[("shop", f"env{i}", REPO) for i in range(4)])
        async with sweep_worker(temporal_env.client, task_queue, store, comparison):
            result = await handle.result()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        await terminate_running(temporal_env, task_queue)
    assert sorted(calls.read_text().split()) == ["env0", "env1", "env2", "env3"]  # each once there
    assert comparison.calls == ["env1"]  # only the one cut short ran again
    assert [(e.environment, e.state) for e in result.environments] == [
        (f"env{i}", "in_sync") for i in range(4)
    ]
