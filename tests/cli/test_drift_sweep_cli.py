"""`lockstep drift --sweep-now`: a real process starts a sweep on Temporal, waits for it, prints
each environment's state and item count, then what the store holds (nothing here: the fake
comparison records nothing), exit 0."""

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
            text = await cli("drift", "--sweep-now")
            as_json = await cli("drift", "--sweep-now", "--output", "json")
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("sweeping: lockstep-drift-sweep-now-")
    assert "shop/production  drifted  3 items" in lines
    assert any(
        line.startswith("shop/staging  unknown  0 items  (the sweep failed: cannot read") for line in lines
    )
    assert "swept 2 environments: 1 drifted, 1 unknown" in lines
    assert lines[-1] == "no drift sweep has been recorded for these environments yet"
    assert as_json.code == 0, as_json.stderr
    assert json.loads(as_json.stdout) == []  # the views the store holds; JSON carries nothing else
