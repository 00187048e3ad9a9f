"""Fixtures of the workflow tests that gate deployments behind approvals: a target for the gated
environment and the approvers of tests/workflows/test_approvals.py.

Users: alice and bob are release managers; carol is one too but wrote the commits (her email is
the test author's); dave belongs to no approver group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from lockstep.settings import Settings
from tests.support.fixtures import terminate_running
from workers.main import build_worker

USERS = {
    "alice": {"groups": ["release-managers"], "email": "alice@example.com"},
    "bob": {"groups": ["release-managers"], "email": "bob@example.com"},
    "carol": {"groups": ["release-managers"], "email": "Author@Example.com"},  # the commit's author
    "dave": {"groups": ["developers"], "email": "dave@example.com"},
}


@pytest.fixture
def gated_settings(settings: Settings, tmp_path: Path) -> Settings:
    raw = settings.model_dump()
    raw["targets"]["local-gated"] = {"type": "local", "root": str(tmp_path / "gated")}
    raw["users"] = USERS
    return Settings(**raw)


@pytest_asyncio.fixture
async def gated_worker(temporal_env: WorkflowEnvironment, gated_settings: Settings) -> AsyncIterator[None]:
    async with build_worker(temporal_env.client, gated_settings):
        yield
    await terminate_running(temporal_env, gated_settings.temporal.task_queue)
