"""Lane ids on the real Temporal server: pairs whose names once shared a lane deploy side by side,
and a lane still running under its older id keeps the turn until it retires.

The applications' one command can be held at a gate (tests/support/gated_apps.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.ids import deployment_id, lane_id, legacy_lane_id
from lockstep.domain.lane_messages import LaneInput
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import LANE_WORKFLOW
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.fixtures import terminate_running
from tests.support.gated_apps import (
    enqueue,
    gated_app,
    lane_view,
    record_histories,
    unique,
    until,
    with_apps,
    workflow_status,
)
from tests.workflows.helpers import deployment_result
from workers.main import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.store]


@pytest_asyncio.fixture
async def cleanup(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    """Each test starts a worker with settings of its own; afterwards nothing of it may run on."""
    yield
    await terminate_running(temporal_env, settings.temporal.task_queue)


async def test_pairs_whose_names_join_alike_deploy_through_separate_lanes(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, tmp_path: Path, cleanup: None
) -> None:
    """`shop-eu`/`prod` and `shop`/`eu-prod` once shared `lane-shop-eu-prod`: the second waited
    for the first. Now the second deploys to the end while the first is held mid-change."""
    eu = gated_app(tmp_path, "shop-eu", "prod")
    shop = gated_app(tmp_path, "shop", "eu-prod")
    shop.gate.touch()  # only shop-eu/prod is held
    settings = with_apps(settings, tmp_path, [eu, shop])
    eu_sha, shop_sha = eu.push("eu v1"), shop.push("shop v1")
    async with build_worker(temporal_env.client, settings):
        held = await enqueue(temporal_env, settings, store, eu, eu_sha)
        await until(lambda: eu.events() == [f"start {eu_sha}"], "shop-eu/prod started deploying")
        other = await enqueue(temporal_env, settings, store, shop, shop_sha)
        assert (held.deployment_id, other.deployment_id) == (
            deployment_id("shop-eu", "prod", eu_sha),
            deployment_id("shop", "eu-prod", shop_sha),
        )
        assert (
            await deployment_result(temporal_env, other.deployment_id)
        ).status == DeploymentStatus.SUCCEEDED
        # shop-eu/prod is still held mid-change: nothing queued shop/eu-prod behind it.
        assert eu.events() == [f"start {eu_sha}"]
        assert await workflow_status(temporal_env, held.deployment_id) == WorkflowExecutionStatus.RUNNING
        eu.gate.touch()
        assert (
            await deployment_result(temporal_env, held.deployment_id)
        ).status == DeploymentStatus.SUCCEEDED
        eu_lane = await lane_view(temporal_env, lane_id("shop-eu", "prod"))
        shop_lane = await lane_view(temporal_env, lane_id("shop", "eu-prod"))
    assert (eu_lane.application, eu_lane.environment) == ("shop-eu", "prod")
    assert (shop_lane.application, shop_lane.environment) == ("shop", "eu-prod")
    assert set(eu_lane.recent) == {held.deployment_id}
    assert set(shop_lane.recent) == {other.deployment_id}
    assert await workflow_status(temporal_env, legacy_lane_id("shop", "eu-prod")) is None  # never started
    assert eu.events() == [f"start {eu_sha}", f"end {eu_sha}"]
    assert shop.events() == [f"start {shop_sha}", f"end {shop_sha}"]


async def test_a_lane_running_under_its_older_id_keeps_the_turn_until_it_retires(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, tmp_path: Path, cleanup: None
) -> None:
    """After an upgrade the lane of an environment may still run as `lane-<app>-<env>`, with a
    deployment in it. Deployments that join meanwhile queue in that lane (so none overlaps the
    one deploying), it ends once idle, and the next deployment starts the lane under its new id."""
    app = gated_app(tmp_path, unique("shop"), "staging")
    settings = with_apps(settings, tmp_path, [app])
    first, second, third = app.push("v1"), app.push("v2"), app.push("v3")
    legacy = legacy_lane_id(app.name, app.environment)
    async with build_worker(temporal_env.client, settings):
        # The lane as an upgrade finds it: running, under the older id, on today's lane code.
        await temporal_env.client.start_workflow(
            LANE_WORKFLOW,
            LaneInput(application=app.name, environment=app.environment, repository=str(app.repo)),
            id=legacy,
            task_queue=settings.temporal.task_queue,
        )
        deploying = await enqueue(temporal_env, settings, store, app, first)
        await until(lambda: app.events() == [f"start {first}"], "the first deployment started")
        assert (await lane_view(temporal_env, legacy)).running == deploying.deployment_id
        queued = await enqueue(temporal_env, settings, store, app, second)
        await _until_pending(temporal_env, legacy, queued.deployment_id)
        # Nothing else could give the second one a turn: the lane under the new id never started.
        assert await workflow_status(temporal_env, lane_id(app.name, app.environment)) is None
        app.gate.touch()
        for done in (deploying, queued):
            assert (
                await deployment_result(temporal_env, done.deployment_id)
            ).status == DeploymentStatus.SUCCEEDED
        assert app.events() == [f"start {first}", f"end {first}", f"start {second}", f"end {second}"]
        # Idle and asked to retire, the older lane ended; the next deployment starts the new one.
        await _until_closed(temporal_env, legacy)
        after = await enqueue(temporal_env, settings, store, app, third)
        assert (
            await deployment_result(temporal_env, after.deployment_id)
        ).status == DeploymentStatus.SUCCEEDED
        new_lane = await lane_view(temporal_env, lane_id(app.name, app.environment))
        await record_histories(
            temporal_env,
            {
                "lane-retired": legacy,  # `retire`: served one more, then ended idle
                "deployment-joined-older-lane": queued.deployment_id,  # join answered the older id
                "deployment-in-lane-unambiguous": after.deployment_id,  # join answered `<app>.<env>.lane`
            },
        )
    assert set(new_lane.recent) == {after.deployment_id}
    assert await workflow_status(temporal_env, legacy) == WorkflowExecutionStatus.COMPLETED
    assert app.events()[4:] == [f"start {third}", f"end {third}"]


async def test_pushes_arriving_while_the_older_lane_hands_over_never_overlap(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, tmp_path: Path, cleanup: None
) -> None:
    """Pushes that land while the older lane deploys, and more while it finishes and ends: each
    joins whichever lane runs at its moment, and the deployments never overlap. (The moment the
    older lane ends is short: this shows the handover under load, it cannot force the race.)"""
    app = gated_app(tmp_path, unique("shop"), "staging")
    settings = with_apps(settings, tmp_path, [app])
    shas = [app.push(f"v{i}") for i in range(9)]
    legacy = legacy_lane_id(app.name, app.environment)
    async with build_worker(temporal_env.client, settings):
        await temporal_env.client.start_workflow(
            LANE_WORKFLOW,
            LaneInput(application=app.name, environment=app.environment, repository=str(app.repo)),
            id=legacy,
            task_queue=settings.temporal.task_queue,
        )
        held = await enqueue(temporal_env, settings, store, app, shas[0])
        await until(lambda: app.events() == [f"start {shas[0]}"], "the first deployment started")
        early = await asyncio.gather(*(enqueue(temporal_env, settings, store, app, sha) for sha in shas[1:5]))
        app.gate.touch()
        late = await asyncio.gather(*(enqueue(temporal_env, settings, store, app, sha) for sha in shas[5:]))
        results = [await deployment_result(temporal_env, e.deployment_id) for e in (held, *early, *late)]
        await _until_closed(temporal_env, legacy)
    assert {r.status for r in results} <= {DeploymentStatus.SUCCEEDED, DeploymentStatus.SUPERSEDED}
    assert results[-1].status == DeploymentStatus.SUCCEEDED  # the newest of the last burst
    running: str | None = None
    for event in app.events():  # one deployment at a time: every start is closed before the next
        kind, sha = event.split()
        assert (kind, running) in (("start", None), ("end", sha)), f"{event} while {running} ran"
        running = sha if kind == "start" else None
    assert running is None


async def _until_pending(env: WorkflowEnvironment, lane: str, deployment: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while deployment not in (view := await lane_view(env, lane)).pending:
        assert time.monotonic() < deadline, f"{deployment} never waited in {lane}: {view}"
        await asyncio.sleep(0.05)


async def _until_closed(env: WorkflowEnvironment, workflow_id: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while (status := await workflow_status(env, workflow_id)) == WorkflowExecutionStatus.RUNNING:
        assert time.monotonic() < deadline, f"{workflow_id} still runs"
        await asyncio.sleep(0.1)
    assert status == WorkflowExecutionStatus.COMPLETED, status
