"""Lanes that never strand a deployment, on the real Temporal dev server: a terminated deployment,
a commit Git no longer has, Git unreachable while choosing, a failed promotion, a lane that dies
with deployments queued, and a turn that outlasts many liveness checks (continue-as-new)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.audit import AuditKind
from lockstep.domain.errors import ConfigError, GitError
from lockstep.domain.ids import lane_id
from lockstep.domain.lane_messages import Enqueued, LaneView
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.support.fixtures import terminate_running
from tests.workflows.helpers import current, deployment_result, runs
from tests.workflows.history_versions import record_history
from workers.main import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.store]

LANE = lane_id("shop", "staging")


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """The lane checks on its running deployment every second; queued ones re-join every 3 s."""
    raw = settings.model_dump()
    raw["deployment"]["lane_check_interval"] = "1s"
    return Settings(**raw)


@pytest_asyncio.fixture
async def quick_worker(temporal_env: WorkflowEnvironment, quick: Settings) -> AsyncIterator[None]:
    async with build_worker(temporal_env.client, quick):
        yield
    await terminate_running(temporal_env, quick.temporal.task_queue)


async def _enqueue(
    env: WorkflowEnvironment, settings: Settings, store: Store, repo: Path, sha: str
) -> Enqueued:
    return await enqueue_deployment(
        client=env.client, settings=settings, store=store, application="shop", environment="staging",
        repository=str(repo), commit=sha, trigger="webhook", actor="octocat",
    )  # fmt: skip


async def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def _logged_api(app_repo: Path, counters: Path, seconds: int, label: str) -> str:
    """A commit whose api deploy logs its start and end around a sleep: an overlap would show."""
    manifest = (app_repo / "lockstep.yaml").read_text()
    manifest = re.sub(r"; echo start-.*?>> [^ ]+/log; sleep \d+; echo end-.*?>> [^\"]+/log", "", manifest)
    manifest = manifest.replace(
        f"echo $LOCKSTEP_COMMIT >> {counters}/api",
        f"echo $LOCKSTEP_COMMIT >> {counters}/api; echo start-$LOCKSTEP_COMMIT >> {counters}/log; "
        f"sleep {seconds}; echo end-$LOCKSTEP_COMMIT >> {counters}/log",
    )
    return commit(app_repo, {"lockstep.yaml": manifest, "api/api.conf": f"version={label}\n"}, label)


async def _lane_never_failed(env: WorkflowEnvironment, settings: Settings) -> None:
    queue = settings.temporal.task_queue
    failed = f'WorkflowId = "{LANE}" AND TaskQueue = "{queue}" AND ExecutionStatus = "Failed"'
    assert [w.id async for w in env.client.list_workflows(failed)] == []
    assert (await env.client.get_workflow_handle(LANE).describe()).status == WorkflowExecutionStatus.RUNNING


async def test_a_terminated_deployment_does_not_block_its_lane(
    temporal_env: WorkflowEnvironment,
    quick_worker: None,
    quick: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
    counters: Path,
) -> None:
    first_sha = _logged_api(app_repo, counters, 2, "slow-2")
    first = await _enqueue(temporal_env, quick, store, app_repo, first_sha)
    await _until(lambda: runs(counters, "api") == [first_sha])
    await temporal_env.client.get_workflow_handle(first.deployment_id).terminate("operator")
    next_sha = commit(app_repo, {"api/api.conf": "version=after\n"}, "after the terminated one")
    after = await _enqueue(temporal_env, quick, store, app_repo, next_sha)
    assert (await deployment_result(temporal_env, after.deployment_id)).status == DeploymentStatus.SUCCEEDED
    assert current(target_root, "api") == next_sha
    view = await temporal_env.client.get_workflow_handle(LANE).query("status", result_type=LaneView)
    assert view.recent[first.deployment_id] == DeploymentStatus.FAILED
    with store.session() as session:  # the store says what the lane says, with the reason
        record = find_view(session, first.deployment_id)
    assert record is not None and record.status == DeploymentStatus.FAILED
    assert record.error is not None and "terminated" in record.error


async def test_unknown_commits_and_an_unreachable_git_do_not_stop_the_lane(
    temporal_env: WorkflowEnvironment,
    quick_worker: None,
    quick: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
    counters: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first_sha = _logged_api(app_repo, counters, 3, "slow-3")
    first = await _enqueue(temporal_env, quick, store, app_repo, first_sha)
    await _until(lambda: runs(counters, "api") == [first_sha])
    # A commit force-pushed away (Git no longer has it) queues beside a real one.
    gone = await _enqueue(temporal_env, quick, store, app_repo, "0123456789abcdef" * 2 + "01234567")
    real_sha = commit(app_repo, {"api/api.conf": "version=real\n"}, "real")
    real = await _enqueue(temporal_env, quick, store, app_repo, real_sha)
    assert (await deployment_result(temporal_env, first.deployment_id)).status == DeploymentStatus.SUCCEEDED
    assert (await deployment_result(temporal_env, real.deployment_id)).status == DeploymentStatus.SUCCEEDED
    gone_result = await deployment_result(temporal_env, gone.deployment_id)
    # Superseded by the real one; or, on a busy machine where it got its turn alone, failed
    # naming the commit (either way it ended, and the lane went on).
    assert gone_result.status in {DeploymentStatus.SUPERSEDED, DeploymentStatus.FAILED}, gone_result.error
    if gone_result.status == DeploymentStatus.FAILED:
        assert gone_result.error and "0123456789ab" in gone_result.error
    assert current(target_root, "api") == real_sha

    # Git cannot answer at all while the lane chooses: the last to join the lane deploys (the
    # order in which the two deployments' joins reach it is theirs), nothing strands.
    def unreachable(self: object, repository: str, shas: object) -> str:
        raise GitError(f"cannot reach {repository}")

    monkeypatch.setattr("lockstep.delivery.rendering.CommitRenderer.newest", unreachable)
    slow = _logged_api(app_repo, counters, 3, "slow-again")
    ahead = await _enqueue(temporal_env, quick, store, app_repo, slow)
    await _until(lambda: slow in runs(counters, "api"))
    shas = [commit(app_repo, {"api/api.conf": f"version={i}\n"}, f"push {i}") for i in range(2)]
    queued = [await _enqueue(temporal_env, quick, store, app_repo, sha) for sha in shas]
    assert (await deployment_result(temporal_env, ahead.deployment_id)).status == DeploymentStatus.SUCCEEDED
    results = {q.commit: await deployment_result(temporal_env, q.deployment_id) for q in queued}
    assert {r.status for r in results.values()} <= {DeploymentStatus.SUCCEEDED, DeploymentStatus.SUPERSEDED}
    deployed = [sha for sha, r in results.items() if r.status == DeploymentStatus.SUCCEEDED]
    assert deployed, "one of them deployed"
    assert current(target_root, "api") in deployed
    assert set(runs(counters, "api")) - {first_sha, real_sha, slow} == set(deployed)
    await _lane_never_failed(temporal_env, quick)


async def test_a_failed_promotion_is_audited_and_the_lane_serves_on(
    temporal_env: WorkflowEnvironment,
    quick: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            "components:",
            "  - name: production\n    branch: main\n    promote_from: staging\n"
            "    targets: {site: local-prod}\ncomponents:",
            1,
        )
    )
    sha = commit(app_repo, {"lockstep.yaml": manifest}, "add production")
    raw = quick.model_dump()
    raw["targets"]["local-prod"] = {"type": "local", "root": str(tmp_path / "prod")}
    settings = Settings(**raw)

    async def refuse(**kwargs: object) -> Enqueued:
        raise ConfigError(f"environment {kwargs['environment']}: its target is being replaced")

    monkeypatch.setattr("activities.lane.enqueue_deployment", refuse)
    try:
        async with build_worker(temporal_env.client, settings):
            staging = await _enqueue(temporal_env, settings, store, app_repo, sha)
            done = await deployment_result(temporal_env, staging.deployment_id)
            assert done.status == DeploymentStatus.SUCCEEDED and done.promotions == ["production"]
            # The lane carries on: the next push deploys.
            next_sha = commit(app_repo, {"api/api.conf": "version=next\n"}, "next")
            following = await _enqueue(temporal_env, settings, store, app_repo, next_sha)
            result = await deployment_result(temporal_env, following.deployment_id)
            assert result.status == DeploymentStatus.SUCCEEDED
            await _lane_never_failed(temporal_env, settings)
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert current(target_root, "api") == next_sha
    with store.session() as session:
        events = events_for(session=session, deployment_id=staging.deployment_id)
    failed = [e for e in events if e.kind == AuditKind.PROMOTION_FAILED]
    assert failed, [e.kind for e in events]
    detail = json.loads(failed[0].detail_json)
    assert detail["to"] == "production" and "its target is being replaced" in detail["error"]


async def test_a_lane_that_dies_is_replaced_and_never_runs_two_at_once(
    temporal_env: WorkflowEnvironment,
    quick_worker: None,
    quick: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
    counters: Path,
) -> None:
    first_sha = _logged_api(app_repo, counters, 6, "slow-6")
    first = await _enqueue(temporal_env, quick, store, app_repo, first_sha)
    await _until(lambda: runs(counters, "api") == [first_sha])
    second_sha = commit(app_repo, {"api/api.conf": "version=second\n"}, "second")
    second = await _enqueue(temporal_env, quick, store, app_repo, second_sha)
    lane = temporal_env.client.get_workflow_handle(LANE)
    await _until_waiting(temporal_env, second.deployment_id)
    await lane.terminate("an operator, or a bug in the lane")
    # The queued deployment re-joins; the lane that starts follows the one still deploying first.
    assert (await deployment_result(temporal_env, second.deployment_id)).status == DeploymentStatus.SUCCEEDED
    assert (await deployment_result(temporal_env, first.deployment_id)).status == DeploymentStatus.SUCCEEDED
    log = (counters / "log").read_text().split()
    assert log == [f"start-{first_sha}", f"end-{first_sha}", f"start-{second_sha}", f"end-{second_sha}"]
    assert current(target_root, "api") == second_sha
    third = await _enqueue(temporal_env, quick, store, app_repo, commit(app_repo, {"x": "1"}, "third"))
    assert (await deployment_result(temporal_env, third.deployment_id)).status == DeploymentStatus.SUCCEEDED
    await record_history(lane, "lane-adopted-what-its-predecessor-let-go")  # the new lane's run


async def _until_waiting(env: WorkflowEnvironment, deployment_id: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        view = await env.client.get_workflow_handle(LANE).query("status", result_type=LaneView)
        if deployment_id in view.pending:
            return
        assert time.monotonic() < deadline, f"{deployment_id} never queued in {view}"
        await asyncio.sleep(0.05)


async def _history_lengths(env: WorkflowEnvironment, workflow_id: str, queue: str) -> list[int]:
    lengths = []
    async for run in env.client.list_workflows(f'WorkflowId = "{workflow_id}" AND TaskQueue = "{queue}"'):
        history = await env.client.get_workflow_handle(workflow_id, run_id=run.run_id).fetch_history()
        lengths.append(len(history.events))
    return lengths


async def _record_a_carrying_run(env: WorkflowEnvironment, queue: str) -> None:
    """Save (for the replay test) a lane run that began by carrying a running deployment."""
    query = f'WorkflowId = "{LANE}" AND TaskQueue = "{queue}" AND ExecutionStatus = "ContinuedAsNew"'
    runs_seen = sorted([w async for w in env.client.list_workflows(query)], key=lambda w: w.start_time)
    if len(runs_seen) >= 2:  # the first run began idle; the next ones carried the long turn
        handle = env.client.get_workflow_handle(LANE, run_id=runs_seen[1].run_id)
        await record_history(handle, "lane-carried-a-long-turn")


async def test_a_long_turn_keeps_the_lane_history_bounded(
    temporal_env: WorkflowEnvironment,
    quick: Settings,
    store: Store,
    app_repo: Path,
    target_root: Path,
    counters: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deployment that runs through many liveness checks (here a slow one, in production one
    waiting a day for approval): the lane continues as new every `checks_per_run` checks,
    carrying it, and still promotes and serves the next push afterwards."""
    from lockstep.domain import lane_messages

    monkeypatch.setattr(lane_messages.LaneInput.model_fields["checks_per_run"], "default", 3)
    lane_messages.LaneInput.model_rebuild(force=True)
    try:
        async with build_worker(temporal_env.client, quick):
            long_sha = _logged_api(app_repo, counters, 10, "slow-10")  # about ten checks at 1 s
            long = await _enqueue(temporal_env, quick, store, app_repo, long_sha)
            await _until(lambda: runs(counters, "api") == [long_sha])
            queued_sha = commit(app_repo, {"api/api.conf": "version=queued\n"}, "queued behind it")
            queued = await _enqueue(temporal_env, quick, store, app_repo, queued_sha)
            assert (
                await deployment_result(temporal_env, long.deployment_id)
            ).status == DeploymentStatus.SUCCEEDED
            result = await deployment_result(temporal_env, queued.deployment_id)
            assert result.status == DeploymentStatus.SUCCEEDED
            await _lane_never_failed(temporal_env, quick)
            lengths = await _history_lengths(temporal_env, LANE, quick.temporal.task_queue)
            await _record_a_carrying_run(temporal_env, quick.temporal.task_queue)
    finally:
        lane_messages.LaneInput.model_rebuild(force=True)
        await terminate_running(temporal_env, quick.temporal.task_queue)
    assert current(target_root, "api") == queued_sha
    assert len(lengths) >= 3, f"the lane continued as new during the long turn: {lengths}"
    # The worst case: each run holds at most `checks_per_run` checks plus a turn's own events.
    print(f"lane run history lengths (events): {sorted(lengths)}")
    assert max(lengths) <= 120, lengths


async def test_lane_runs_record_no_failed_workflow_task(
    temporal_env: WorkflowEnvironment,
    quick_worker: None,
    quick: Settings,
    store: Store,
    app_repo: Path,
) -> None:
    """Choosing among commits Git does not know never raises inside the lane (StopIteration)."""
    shas = ["f" * 40, "e" * 40]
    queued = [await _enqueue(temporal_env, quick, store, app_repo, sha) for sha in shas]
    results = [await deployment_result(temporal_env, q.deployment_id) for q in queued]
    assert all(r.status.is_final for r in results)
    history = await temporal_env.client.get_workflow_handle(LANE).fetch_history()
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert failed == []
    await _lane_never_failed(temporal_env, quick)
