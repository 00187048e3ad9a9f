"""The DriftSweep workflow on the real Temporal server, around a fake comparison: it sweeps every
environment at most `concurrency` at once, skips an environment whose lane is deploying, keeps
going past an environment that fails, and retries a comparison that failed once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.threads import ActivityThreads
from lockstep.domain.sweep_messages import LANE_BUSY, LANE_MOVED, SweepInput, SweepResult
from lockstep.settings import Settings
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.steps import record_step
from tests.support.drift_fakes import FakeComparison
from tests.support.drift_fakes import sweep_worker as fake_sweep_worker
from tests.support.fixtures import terminate_running
from tests.workflows.history_versions import record_history
from workflows.drift import DriftSweep

pytestmark = [pytest.mark.temporal, pytest.mark.store]

REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def comparison() -> FakeComparison:
    return FakeComparison(environments=[("shop", f"env{i}", REPO) for i in range(6)])


@pytest_asyncio.fixture
async def sweep_worker(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, comparison: FakeComparison
) -> AsyncIterator[None]:
    async with fake_sweep_worker(temporal_env.client, settings.temporal.task_queue, store, comparison):
        yield
    await terminate_running(temporal_env, settings.temporal.task_queue)


async def _sweep(
    env: WorkflowEnvironment, settings: Settings, concurrency: int
) -> tuple[SweepResult, WorkflowHandle[DriftSweep, SweepResult]]:
    handle = await env.client.start_workflow(
        DriftSweep.run,
        SweepInput(concurrency=concurrency, heartbeat_seconds=5, timeout_seconds=60),
        id=f"drift-sweep-test-{uuid.uuid4().hex[:8]}",
        task_queue=settings.temporal.task_queue,
    )
    return await handle.result(), handle


async def test_every_environment_is_swept_at_most_concurrency_at_once(
    temporal_env: WorkflowEnvironment, settings: Settings, sweep_worker: None, comparison: FakeComparison
) -> None:
    comparison.peak_target = 2
    comparison.drifted = {"env3": 2}
    result, handle = await _sweep(temporal_env, settings, concurrency=2)
    assert comparison.peak == 2  # reached, and never passed
    assert sorted(comparison.calls) == [f"env{i}" for i in range(6)]  # each once
    assert [(e.environment, e.state, e.items) for e in result.environments] == [
        (f"env{i}", "drifted" if i == 3 else "in_sync", 2 if i == 3 else 0) for i in range(6)
    ]
    assert result.counts() == {"in_sync": 5, "drifted": 1} and result.omitted == 0
    await record_history(handle, "sweep-six-environments-two-at-once")


async def test_an_environment_whose_lane_is_deploying_is_skipped(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    sweep_worker: None,
    comparison: FakeComparison,
    store: Store,
) -> None:
    with store.session() as session:
        upsert_deployment(
            session=session,
            id="shop.env1.abcdef1234",
            application="shop",
            environment="env1",
            commit="abcdef1234" * 4,
            repository=REPO,
            trigger="manual",
            actor="alice",
            status="deploying",
        )
    result, handle = await _sweep(temporal_env, settings, concurrency=4)
    skipped = [e for e in result.environments if e.state == "skipped"]
    assert [(e.environment, e.reason) for e in skipped] == [("env1", f"{LANE_BUSY} (shop.env1.abcdef1234)")]
    assert "env1" not in comparison.calls and len(comparison.calls) == 5
    await record_history(handle, "sweep-skips-a-deploying-lane")


async def test_a_deployment_awaiting_approval_does_not_stop_a_sweep(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    sweep_worker: None,
    comparison: FakeComparison,
    store: Store,
) -> None:
    with store.session() as session:
        for env, status in (("env1", "awaiting_approval"), ("env2", "queued")):
            upsert_deployment(
                session=session, id=f"shop.{env}.abcdef1234", application="shop", environment=env,
                commit="abcdef1234" * 4, repository=REPO, trigger="promotion", actor=None, status=status,
            )  # fmt: skip
    result, _handle = await _sweep(temporal_env, settings, concurrency=4)
    assert {e.state for e in result.environments} == {"in_sync"}
    assert sorted(comparison.calls) == [f"env{i}" for i in range(6)]


async def test_a_deployment_that_ends_while_its_environment_is_compared_skips_it(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    sweep_worker: None,
    comparison: FakeComparison,
    store: Store,
) -> None:
    def ended() -> None:
        with store.session() as session:
            upsert_deployment(
                session=session, id="shop.env2.abcdef1234", application="shop", environment="env2",
                commit="abcdef1234" * 4, repository=REPO, trigger="manual", actor=None, status="succeeded",
            )  # fmt: skip
            record_step(  # it reached its targets (one superseded or denied before would not count)
                session=session, deployment_id="shop.env2.abcdef1234", component="web",
                action="deploy", status="succeeded",
            )  # fmt: skip

    comparison.during["env2"] = ended
    result, _handle = await _sweep(temporal_env, settings, concurrency=4)
    skipped = [(e.environment, e.reason) for e in result.environments if e.state == "skipped"]
    assert skipped == [("env2", f"{LANE_MOVED}; compared next time")]


async def test_a_failing_environment_does_not_stop_the_others(
    temporal_env: WorkflowEnvironment, settings: Settings, sweep_worker: None, comparison: FakeComparison
) -> None:
    comparison.failing = {"env2"}
    comparison.flaky = {"env4"}
    result, handle = await _sweep(temporal_env, settings, concurrency=3)
    states = {e.environment: (e.state, e.reason) for e in result.environments}
    state, reason = states.pop("env2")
    assert state == "unknown" and reason is not None and "cannot read the targets of env2" in reason
    assert set(states.values()) == {("in_sync", None)} and len(states) == 5
    assert comparison.calls.count("env2") == 3  # the retry policy's attempts, then given up
    assert comparison.calls.count("env4") == 2  # failed once, retried, compared
    await record_history(handle, "sweep-one-environment-fails")


async def test_environments_past_the_bound_are_listed_in_name_order_and_counted(
    store: Store, comparison: FakeComparison
) -> None:
    comparison.environments = list(reversed(comparison.environments))
    threads = ActivityThreads(activities=2, local_activities=1)
    try:
        listed = await ActivityEnvironment().run(comparison.activities(store, threads).list_environments, 2)
    finally:
        threads.shutdown()
    assert [t.environment for t in listed.environments] == ["env0", "env1"] and listed.omitted == 4
