"""The environment lane on the real Temporal server: serialised, coalescing, promoting,
answering redeliveries, and continuing-as-new with its queue intact."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.approvals import ApprovalAnswer, ApprovalInput
from lockstep.domain.ids import lane_id
from lockstep.domain.lane_messages import Enqueued, LaneView
from lockstep.domain.messages import DeploymentView
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit, git
from tests.support.fixtures import terminate_running
from tests.workflows.helpers import current, deployment_result, record_history, runs
from workers.main import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def _enqueue(
    env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    repo: Path,
    sha: str,
    environment: str = "staging",
    trigger: str = "webhook",
) -> Enqueued:
    return await enqueue_deployment(
        client=env.client,
        settings=settings,
        store=store,
        application="shop",
        environment=environment,
        repository=str(repo),
        commit=sha,
        trigger=trigger,
        actor="octocat",
    )


async def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_enqueue_deploys_and_redelivery_answers_with_it(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
) -> None:
    sha = git(app_repo, "rev-parse", "HEAD")
    first = await _enqueue(temporal_env, settings, store, app_repo, sha)
    assert not first.existing
    again = await _enqueue(temporal_env, settings, store, app_repo, sha)
    assert again.existing and again.deployment_id == first.deployment_id
    assert (await deployment_result(temporal_env, first.deployment_id)).status == DeploymentStatus.SUCCEEDED
    assert current(target_root, "web") == sha
    after = await _enqueue(temporal_env, settings, store, app_repo, sha)
    assert after.existing and after.status == DeploymentStatus.SUCCEEDED
    with store.session() as session:
        view = find_view(session, first.deployment_id)
    assert view is not None and view.trigger == "webhook" and view.actor == "octocat"


async def test_an_ended_deployment_is_retried_only_when_a_person_asks(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    app_repo: Path,
) -> None:
    """A redelivered push (or the next poll) of a commit whose deployment failed answers with
    that deployment; `lockstep deploy` / `POST /deployments` start the next attempt."""
    good = git(app_repo, "rev-parse", "HEAD")
    assert (
        await deployment_result(
            temporal_env, (await _enqueue(temporal_env, settings, store, app_repo, good)).deployment_id
        )
    ).status == DeploymentStatus.SUCCEEDED
    broken = commit(app_repo, {"api/api.conf": "version=3\n", "web/health.sh": "exit 1\n"}, "break web")
    failed = await _enqueue(temporal_env, settings, store, app_repo, broken)
    assert (
        await deployment_result(temporal_env, failed.deployment_id)
    ).status == DeploymentStatus.ROLLED_BACK
    for trigger in ("webhook", "poll"):
        again = await _enqueue(temporal_env, settings, store, app_repo, broken, trigger=trigger)
        assert (again.deployment_id, again.existing, again.status) == (
            failed.deployment_id,
            True,
            DeploymentStatus.ROLLED_BACK,
        )
    retried = await _enqueue(temporal_env, settings, store, app_repo, broken, trigger="manual")
    assert (retried.deployment_id, retried.existing) == (f"{failed.deployment_id}.2", False)
    assert (
        await deployment_result(temporal_env, retried.deployment_id)
    ).status == DeploymentStatus.ROLLED_BACK
    # A redelivery now answers with the newest attempt, and still starts nothing.
    again = await _enqueue(temporal_env, settings, store, app_repo, broken)
    assert (again.deployment_id, again.existing) == (retried.deployment_id, True)


async def test_a_burst_never_overlaps_and_the_newest_wins(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
    counters: Path,
) -> None:
    first_sha = await _slow_first(app_repo, counters)
    first = await _enqueue(temporal_env, settings, store, app_repo, first_sha)
    await _until(lambda: runs(counters, "db") == [first_sha])  # the first one is deploying
    burst = [commit(app_repo, {"api/api.conf": f"version={i}\n"}, f"push {i}") for i in range(20)]
    queued = await asyncio.gather(*(_enqueue(temporal_env, settings, store, app_repo, sha) for sha in burst))
    assert not any(q.existing for q in queued)
    newest = queued[-1]
    assert (await deployment_result(temporal_env, first.deployment_id)).status == DeploymentStatus.SUCCEEDED
    assert (await deployment_result(temporal_env, newest.deployment_id)).status == DeploymentStatus.SUCCEEDED
    assert current(target_root, "api") == burst[-1]
    # Only the first and the newest deployed anything: every api deploy ran for one of them.
    assert set(runs(counters, "api")) == {first_sha, burst[-1]}
    with store.session() as session:
        statuses = {q.deployment_id: find_view(session, q.deployment_id) for q in queued}
    superseded = [v for v in statuses.values() if v is not None and v.status == DeploymentStatus.SUPERSEDED]
    # Enqueues that arrived while the first ran coalesce; some may have raced ahead of it.
    assert len(superseded) >= 1
    assert all(
        v.error == f"superseded by {newest.deployment_id}"
        for v in superseded
        if v.error and newest.deployment_id in v.error
    )
    lane_handle = temporal_env.client.get_workflow_handle(lane_id("shop", "staging"))
    lane = await lane_handle.query("status", result_type=LaneView)
    # Saved for the replay test (LOCKSTEP_RECORD_HISTORIES=1; write-once, see history_versions).
    await record_history(lane_handle, "lane-signalled")
    await record_history(
        temporal_env.client.get_workflow_handle(newest.deployment_id), "deployment-in-lane-succeeded"
    )
    await record_history(
        temporal_env.client.get_workflow_handle(superseded[0].id), "deployment-in-lane-superseded"
    )
    assert lane.running is None and lane.pending == []
    assert lane.recent[newest.deployment_id] == DeploymentStatus.SUCCEEDED


async def test_success_promotes_to_the_next_environment(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    manifest = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            "components:",
            "  - name: production\n    branch: main\n    promote_from: staging\n"
            "    approvals: {required: 1, groups: [ops]}\n"
            '    targets: {site: local-prod}\n    values: {greeting: "hello production"}\ncomponents:',
            1,
        )
    )
    sha = commit(app_repo, {"lockstep.yaml": manifest}, "add production")
    raw = settings.model_dump()
    raw["targets"]["local-prod"] = {"type": "local", "root": str(tmp_path / "prod")}
    raw["users"] = {
        "alice": {"groups": ["ops"], "email": "alice@example.com"},
        "bob": {"groups": ["ops"], "email": "bob@example.com"},
    }
    settings = Settings(**raw)
    try:
        async with build_worker(temporal_env.client, settings):  # a worker that knows local-prod
            staging = await _enqueue(temporal_env, settings, store, app_repo, sha)
            assert (
                await deployment_result(temporal_env, staging.deployment_id)
            ).status == DeploymentStatus.SUCCEEDED
            production_id = staging.deployment_id.replace(".staging.", ".production.")
            # The default policy protects production: the promotion waits for two approvals.
            await _approve_when_awaiting(temporal_env, production_id, ["alice", "bob"])
            result = await deployment_result(temporal_env, production_id)
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    assert current(tmp_path / "prod", "web") == sha
    assert "hello production" in (tmp_path / "prod/srv/web/current/index.html").read_text()
    with store.session() as session:
        view = find_view(session, production_id)
    assert view is not None and view.trigger == "promotion"


async def test_the_lane_continues_as_new_with_its_queue(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
) -> None:
    from lockstep.domain import lane_messages

    original = lane_messages.LaneInput.model_fields["deployments_per_run"].default
    lane_messages.LaneInput.model_fields["deployments_per_run"].default = 1
    lane_messages.LaneInput.model_rebuild(force=True)
    try:
        shas = [commit(app_repo, {"api/api.conf": f"version={i}\n"}, f"v{i}") for i in range(3)]
        for sha in shas:
            done = await _enqueue(temporal_env, settings, store, app_repo, sha)
            assert (
                await deployment_result(temporal_env, done.deployment_id)
            ).status == DeploymentStatus.SUCCEEDED
    finally:
        lane_messages.LaneInput.model_fields["deployments_per_run"].default = original
        lane_messages.LaneInput.model_rebuild(force=True)
    handle = temporal_env.client.get_workflow_handle(lane_id("shop", "staging"))
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    runs_seen = [
        w async for w in temporal_env.client.list_workflows(f'WorkflowId = "{lane_id("shop", "staging")}"')
    ]
    assert len(runs_seen) >= 3, "each deployment ended one run of the lane (continue-as-new)"
    lane = await handle.query("status", result_type=LaneView)
    assert all(lane.recent.get(f"shop.staging.{sha[:10]}") == DeploymentStatus.SUCCEEDED for sha in shas)
    assert current(target_root, "api") == shas[-1]


async def _slow_first(app_repo: Path, counters: Path) -> str:
    """A commit whose db deploy takes 2 s, so the next ones queue behind it."""
    slow = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            f"echo $LOCKSTEP_COMMIT >> {counters}/db", f"echo $LOCKSTEP_COMMIT >> {counters}/db; sleep 2"
        )
    )
    return commit(app_repo, {"lockstep.yaml": slow}, "slow db")


async def test_a_queued_deployment_is_a_workflow_and_can_be_cancelled(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    app_repo: Path,
    counters: Path,
) -> None:
    first_sha = await _slow_first(app_repo, counters)
    first = await _enqueue(temporal_env, settings, store, app_repo, first_sha)
    await _until(lambda: runs(counters, "db") == [first_sha])
    waiting_sha = commit(app_repo, {"api/api.conf": "version=queued\n"}, "queued")
    waiting = await _enqueue(temporal_env, settings, store, app_repo, waiting_sha)
    handle = temporal_env.client.get_workflow_handle(waiting.deployment_id)
    # It exists at once, queued, and is filterable as such in the Temporal UI.
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    lane = temporal_env.client.get_workflow_handle(lane_id("shop", "staging"))
    await _until_pending(lane, waiting.deployment_id)
    redelivered = await _enqueue(temporal_env, settings, store, app_repo, waiting_sha)
    assert (redelivered.deployment_id, redelivered.existing) == (waiting.deployment_id, True)
    assert redelivered.status == DeploymentStatus.QUEUED  # what it is, not a guess of "deploying"
    await handle.cancel()
    result = await deployment_result(temporal_env, waiting.deployment_id)
    assert result.status == DeploymentStatus.CANCELLED and result.error == "cancelled while queued"
    assert (await deployment_result(temporal_env, first.deployment_id)).status == DeploymentStatus.SUCCEEDED
    view = await lane.query("status", result_type=LaneView)
    assert view.pending == [] and view.recent[waiting.deployment_id] == DeploymentStatus.CANCELLED
    assert waiting_sha not in runs(counters, "api")  # it never deployed
    with store.session() as session:
        record = find_view(session, waiting.deployment_id)
    assert record is not None and record.status == DeploymentStatus.CANCELLED


async def _until_pending(lane: WorkflowHandle[Any, Any], deployment_id: str, timeout: float = 60) -> None:
    """Until the lane's status query lists `deployment_id` as waiting for its turn."""
    deadline = time.monotonic() + timeout
    while True:
        view = await lane.query("status", result_type=LaneView)
        if deployment_id in view.pending:
            return
        assert time.monotonic() < deadline, f"{deployment_id} never showed as queued in {view}"
        await asyncio.sleep(0.05)


async def _approve_when_awaiting(env: WorkflowEnvironment, deployment_id: str, approvers: list[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(RPCError):
            handle = env.client.get_workflow_handle(deployment_id)
            view = await handle.query("status", result_type=DeploymentView)
            if view.status == DeploymentStatus.AWAITING_APPROVAL:
                break
        assert time.monotonic() < deadline, f"{deployment_id} never awaited approval"
        await asyncio.sleep(0.2)
    for name in approvers:
        await handle.execute_update("approve", ApprovalInput(approver=name), result_type=ApprovalAnswer)
