"""Workflow code runs inside Temporal's sandbox (issue 13, item 5).

Only the activity interfaces, the search attribute keys and `lockstep.domain` are passed
through; the workflow modules are re-imported by the sandbox with each run, so a
nondeterministic call in them fails the workflow task there instead of running unchecked.
"""

from __future__ import annotations

import sys
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import workflows.drift
import workflows.lane
import workflows.polling  # noqa: F401
from tests.workflows.sandbox_probe import WORKFLOW_MODULES, SandboxProbe

pytestmark = [pytest.mark.temporal]


async def test_the_sandbox_reimports_and_checks_every_workflow_module(
    temporal_env: WorkflowEnvironment,
) -> None:
    host_ids = {name: id(sys.modules[name]) for name in WORKFLOW_MODULES}
    task_queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(temporal_env.client, task_queue=task_queue, workflows=[SandboxProbe]):
        seen = await temporal_env.client.execute_workflow(
            SandboxProbe.run,
            host_ids,
            id=f"sandbox-probe-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
        )
    assert seen == {
        **{name: "reimported" for name in WORKFLOW_MODULES},
        "clock in governance": "RestrictedWorkflowAccessError",
    }
