"""The worker wires the drift comparison into the sweep's activities: when `lockstep.drift.sweep`
is there, its two functions with the worker's adapters bound; when it is not, the worker is built
all the same, without the sweep, and says so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.testing import ActivityEnvironment

import workers.drift
from activities.threads import ActivityThreads
from lockstep.domain.sweep_messages import SweepRequest, SweepTarget
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.drift_fakes import FakeDrift
from workers.drift import drift_activities

pytestmark = [pytest.mark.store]


async def test_the_comparison_gets_the_workers_adapters(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, store: Store
) -> None:
    seen: dict[str, Any] = {}

    def sweep_environment(**kwargs: Any) -> FakeDrift:
        seen.update(kwargs)
        return FakeDrift(state="drifted", items=["a", "b"], pending=["c"])

    monkeypatch.setattr(workers.drift, "sweep_environment", sweep_environment)
    monkeypatch.setattr(
        workers.drift, "environments_to_sweep", lambda s: [("shop", "staging", "repo")] if s is store else []
    )
    threads = ActivityThreads(activities=2, local_activities=1)
    renderer, deliverers, policy = object(), object(), object()
    try:
        client = object()  # a FakeDrift is no EnvironmentDrift: no remediation is looked for
        drift = drift_activities(client, settings, store, renderer, deliverers, policy, threads)  # type: ignore[arg-type]
        listed = await ActivityEnvironment().run(drift.list_environments, 10)
        request = SweepRequest(target=listed.environments[0], heartbeat_seconds=5)
        swept = await ActivityEnvironment().run(drift.sweep_environment, request)
    finally:
        threads.shutdown()
    assert listed.environments == [SweepTarget(application="shop", environment="staging", repository="repo")]
    assert (swept.state, swept.items, swept.pending) == ("drifted", 2, 1)
    assert seen["store"] is store and seen["renderer"] is renderer
    assert seen["deliverers"] is deliverers and seen["policy"] is policy
    assert (seen["application"], seen["environment"], seen["repository"]) == ("shop", "staging", "repo")
    assert isinstance(seen["now"], datetime) and seen["now"].tzinfo == UTC and callable(seen["progress"])
