"""A bug in workflow code is reported, not silent: the SDK retries the failing workflow task
forever (on purpose: a fixed worker carries on), and the worker's metrics count each failure as
`temporal_workflow_task_execution_failed`, which docs/operations.md tells operators to alert on.

The client is made as the worker process makes it (`lockstep.orchestration.telemetry`, then
`connect`), against the real dev server; the broken workflow exists only in this test."""

from __future__ import annotations

import uuid

import pytest
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from lockstep.orchestration.client import connect
from lockstep.orchestration.telemetry import metrics_runtime
from lockstep.settings import Settings
from tests.support.api_server import free_port
from tests.support.fixtures import terminate_running
from tests.support.metrics import samples, scrape_until

pytestmark = [pytest.mark.temporal]

FAILED = "temporal_workflow_task_execution_failed"


# Unsandboxed: the sandbox would re-import this test module, settings and all.
@workflow.defn(name="BrokenOnPurpose", sandboxed=False)
class BrokenOnPurpose:
    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("a bug in workflow code")


def _failures(text: str) -> float:
    return sum(
        value for labels, value in samples(text, FAILED) if labels.get("workflow_type") == "BrokenOnPurpose"
    )


async def test_a_broken_workflow_shows_in_the_worker_metrics(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    runtime = metrics_runtime(listen)
    assert runtime is not None, f"could not serve metrics on {listen}"
    client = await connect(settings.temporal, runtime=runtime)
    queue = settings.temporal.task_queue
    try:
        async with Worker(client, task_queue=queue, workflows=[BrokenOnPurpose]):
            handle = await client.start_workflow(
                BrokenOnPurpose.run, id=f"broken-{uuid.uuid4().hex[:8]}", task_queue=queue
            )
            text = await scrape_until(listen, lambda text: _failures(text) >= 1)
            # Not failed: the workflow waits, task retried, for a worker with the bug fixed.
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        await terminate_running(temporal_env, queue)
    labels = next(
        labels for labels, _ in samples(text, FAILED) if labels.get("workflow_type") == "BrokenOnPurpose"
    )
    assert labels["task_queue"] == queue, labels
    assert labels["namespace"] == settings.temporal.namespace, labels


async def test_an_address_in_use_leaves_the_worker_without_metrics_saying_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        listen = f"127.0.0.1:{held.getsockname()[1]}"
        assert metrics_runtime(listen) is None
    assert f"this worker serves no metrics: {listen}" in caplog.text
    assert "temporal.metrics_listen" in caplog.text
    assert metrics_runtime(None) is None
