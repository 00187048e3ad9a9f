"""Polling on the real Temporal server: the PollRepository workflow enqueues new branch heads
through the lanes exactly once, reports broken manifests instead of failing, and the poll
schedules converge to the configured repositories."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.polling_messages import PollInput, PollResult
from lockstep.domain.redaction import safe_url
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.schedules import ensure_poll_schedules, poll_schedule_id, polled
from lockstep.settings import RepositorySettings, Settings
from tests.support.apprepo import commit, git
from tests.support.fixtures import terminate_running
from tests.workflows.helpers import current, deployment_result
from workflows.polling import PollRepository

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def _poll(env: WorkflowEnvironment, settings: Settings, repo: Path) -> PollResult:
    return await env.client.execute_workflow(
        PollRepository.run,
        PollInput(repository=safe_url(str(repo))),
        id=f"poll-test-{uuid.uuid4().hex[:8]}",
        task_queue=settings.temporal.task_queue,
    )


async def test_a_poll_enqueues_each_new_head_once(
    temporal_env: WorkflowEnvironment, worker: None, settings: Settings, app_repo: Path, target_root: Path
) -> None:
    sha = git(app_repo, "rev-parse", "HEAD")
    first = await _poll(temporal_env, settings, app_repo)
    assert first.enqueued == [f"shop.staging.{sha[:10]}"] and first.unchanged == [] and first.errors == []
    assert (await deployment_result(temporal_env, first.enqueued[0])).status == DeploymentStatus.SUCCEEDED
    assert current(target_root, "web") == sha

    again = await _poll(temporal_env, settings, app_repo)
    assert again.enqueued == [] and again.unchanged == first.enqueued and again.errors == []

    newer = commit(app_repo, {"api/api.conf": "version=2\n"}, "api v2")
    third = await _poll(temporal_env, settings, app_repo)
    assert third.enqueued == [f"shop.staging.{newer[:10]}"] and third.unchanged == []
    assert (await deployment_result(temporal_env, third.enqueued[0])).status == DeploymentStatus.SUCCEEDED
    assert current(target_root, "api") == newer


async def test_a_broken_manifest_is_reported_not_raised(
    temporal_env: WorkflowEnvironment, worker: None, settings: Settings, app_repo: Path
) -> None:
    commit(app_repo, {"lockstep.yaml": "application: [unclosed\n"}, "broken manifest")
    result = await _poll(temporal_env, settings, app_repo)
    assert result.enqueued == [] and result.unchanged == []
    assert len(result.errors) == 1 and "lockstep.yaml" in result.errors[0]


async def test_a_broken_branch_does_not_stop_the_others(
    temporal_env: WorkflowEnvironment, worker: None, settings: Settings, app_repo: Path
) -> None:
    production = (
        "  - name: production\n"
        "    branch: release\n"
        "    targets: {site: local-prod}\n"  # never deployed here
        '    values: {greeting: "hello production"}\n'
        "components:\n"
    )
    manifest = (app_repo / "lockstep.yaml").read_text().replace("components:\n", production, 1)
    git(app_repo, "checkout", "-q", "-b", "release")
    commit(app_repo, {"lockstep.yaml": "application: shop\nenvironments: 3\n"}, "broken on release")
    git(app_repo, "checkout", "-q", "main")
    sha = commit(app_repo, {"lockstep.yaml": manifest}, "production from release")

    result = await _poll(temporal_env, settings, app_repo)
    assert result.enqueued == [f"shop.staging.{sha[:10]}"], result.errors
    assert len(result.errors) == 1 and result.errors[0].startswith("release: ")
    assert (await deployment_result(temporal_env, result.enqueued[0])).status == DeploymentStatus.SUCCEEDED


async def test_poll_schedules_follow_the_configuration(
    temporal_env: WorkflowEnvironment, settings: Settings, app_repo: Path
) -> None:
    client = temporal_env.client
    suffix = uuid.uuid4().hex[:8]
    named = RepositorySettings(url=str(app_repo), name=f"acme/shop-{suffix}", poll_interval="7d")
    unnamed = RepositorySettings(url=f"https://token:secret@git.example.com/{suffix}/other.git")
    both = settings.model_copy(update={"repositories": [named, unnamed]})
    ids = [poll_schedule_id(named), poll_schedule_id(unnamed)]
    assert ids[0] == f"lockstep-poll-acme-shop-{suffix}" and ids[1].startswith("lockstep-poll-")
    try:
        assert await ensure_poll_schedules(client, both) == ids
        assert await ensure_poll_schedules(client, both) == ids  # idempotent: updated in place
        for schedule_id, every in zip(ids, (timedelta(days=7), timedelta(minutes=3)), strict=True):
            schedule = (await client.get_schedule_handle(schedule_id).describe()).schedule
            assert [i.every for i in schedule.spec.intervals] == [every]
            assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
            action = schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "PollRepository" and action.task_queue == settings.temporal.task_queue
            assert action.id == schedule_id
            assert "secret" not in str(action.args)  # no credentials in what Temporal stores

        changed = named.model_copy(update={"poll_interval": timedelta(days=1)})
        assert (
            await ensure_poll_schedules(client, both.model_copy(update={"repositories": [changed]}))
            == ids[:1]
        )
        schedule = (await client.get_schedule_handle(ids[0]).describe()).schedule
        assert [i.every for i in schedule.spec.intervals] == [timedelta(days=1)]
        with pytest.raises(RPCError) as gone:
            await client.get_schedule_handle(ids[1]).describe()
        assert gone.value.status == RPCStatusCode.NOT_FOUND
    finally:
        for schedule_id in ids:
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(schedule_id).delete()
        await terminate_running(temporal_env, settings.temporal.task_queue)


def test_only_repositories_without_webhooks_are_polled_by_default() -> None:
    assert polled(RepositorySettings(url="/srv/git/a"))
    assert not polled(RepositorySettings(url="/srv/git/b", webhook_secret_env="B_SECRET"))
    assert polled(RepositorySettings(url="/srv/git/c", webhook_secret_env="C_SECRET", poll_interval="10m"))
