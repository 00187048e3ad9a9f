"""`lockstep drift --sweep-now` (for now the hidden `lockstep drift-sweep`): a real process starts
a sweep on Temporal, waits for it and prints each environment's state and item count, exit 0."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.cli.conftest import Cli
from tests.support.drift_fakes import FakeComparison, sweep_worker
from tests.support.fixtures import terminate_running

pytestmark = [pytest.mark.temporal, pytest.mark.store]

REPO = "https://git.example.com/acme/shop.git"


async def test_sweep_now_waits_and_prints_each_environment(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, cli_for: Callable[[Settings], Cli]
) -> None:
    comparison = FakeComparison(
        environments=[("shop", "staging", REPO), ("shop", "production", REPO)],
        drifted={"production": 3},
        failing={"staging"},
    )
    cli = cli_for(settings)
    try:
        async with sweep_worker(temporal_env.client, settings.temporal.task_queue, store, comparison):
            text = await cli("drift-sweep")
            as_json = await cli("drift-sweep", "--output", "json")
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("sweeping: lockstep-drift-sweep-now-")
    assert "shop/production  drifted  3 items" in lines
    assert any(
        line.startswith("shop/staging  unknown  0 items  (the sweep failed: cannot read") for line in lines
    )
    assert lines[-1] == "swept 2 environments: 1 drifted, 1 unknown"
    assert as_json.code == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert [(e["environment"], e["state"], e["items"]) for e in result["environments"]] == [
        ("production", "drifted", 3),
        ("staging", "unknown", 0),
    ]
