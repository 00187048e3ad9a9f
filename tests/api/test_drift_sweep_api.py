"""`POST /drift/sweep`: only with a token; 202 with the sweep's workflow id, or with wait=true 200
with its result, from a real sweep on Temporal (around a fake comparison)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from temporalio.testing import WorkflowEnvironment

from lockstep.api.app import create_app
from lockstep.domain.sweep_messages import SWEEP_NOW_PREFIX, SweepResult
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.drift_fakes import FakeComparison, sweep_worker
from tests.support.fixtures import terminate_running

pytestmark = [pytest.mark.temporal, pytest.mark.store]

TOKEN = "token-of-alice"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    raw = settings.model_dump()
    raw["users"] = {
        "alice": {"groups": ["developers"], "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}
    }
    return Settings(**raw)


async def test_a_sweep_needs_a_token(api_settings: Settings, store: Store) -> None:
    with TestClient(create_app(api_settings, store=store)) as api:
        assert api.post("/drift/sweep").status_code == 401
        assert api.post("/drift/sweep", headers={"Authorization": "Bearer nope"}).status_code == 401


async def test_a_sweep_starts_and_with_wait_answers_its_result(
    temporal_env: WorkflowEnvironment, api_settings: Settings, store: Store, tmp_path: Path
) -> None:
    comparison = FakeComparison(environments=[("shop", "staging", REPO)], drifted={"staging": 1})
    task_queue = api_settings.temporal.task_queue
    try:
        async with sweep_worker(temporal_env.client, task_queue, store, comparison):
            with TestClient(create_app(api_settings, store=store)) as api:
                started = await asyncio.to_thread(api.post, "/drift/sweep", headers=AUTH)
                waited = await asyncio.to_thread(api.post, "/drift/sweep?wait=true", headers=AUTH)
            assert started.status_code == 202, started.text
            workflow_id = started.json()["id"]
            assert workflow_id.startswith(SWEEP_NOW_PREFIX) and started.json()["result"] is None
            later = await temporal_env.client.get_workflow_handle(
                workflow_id, result_type=SweepResult
            ).result()
            assert [(e.environment, e.state, e.items) for e in later.environments] == [
                ("staging", "drifted", 1)
            ]
    finally:
        await terminate_running(temporal_env, task_queue)
    assert waited.status_code == 200, waited.text
    body = waited.json()
    assert body["id"].startswith(SWEEP_NOW_PREFIX) and body["id"] != workflow_id
    result = SweepResult.model_validate(body["result"])
    assert [(e.environment, e.state, e.items) for e in result.environments] == [("staging", "drifted", 1)]
