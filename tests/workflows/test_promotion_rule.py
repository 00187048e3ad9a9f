"""`promote_from` holds for every trigger (docs/manifest.md): a commit that never succeeded in the source
environment ends `denied` before anything is touched, whether a person, the API, a webhook, a
rollback or a remediation asks; a promotion after a success goes through; and a commit that
drops `promote_from` from its own lockstep.yaml still answers to the rule live in the
environment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from lockstep.api.app import create_app
from lockstep.domain.lane_messages import Enqueued
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.support.fixtures import terminate_running
from tests.workflows.helpers import current, deployment_result, record_history
from workers.main import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.store]

UAT = """\
  - name: uat
    branch: main
    promote_from: staging
    targets: {site: local-uat}
    values: {greeting: "hello uat"}
components:"""


@pytest.fixture
def uat_settings(settings: Settings, tmp_path: Path) -> Settings:
    raw = settings.model_dump()
    raw["targets"]["local-uat"] = {"type": "local", "root": str(tmp_path / "uat")}
    raw["users"] = {"alice": {"groups": ["release-managers"], "email": "alice@example.com",
                              "token_sha256": hashlib.sha256(b"alice-token").hexdigest()}}  # fmt: skip
    return Settings(**raw)


@pytest_asyncio.fixture
async def uat_worker(temporal_env: WorkflowEnvironment, uat_settings: Settings) -> AsyncIterator[None]:
    async with build_worker(temporal_env.client, uat_settings):
        yield
    await terminate_running(temporal_env, uat_settings.temporal.task_queue)


def _with_uat(app_repo: Path) -> str:
    manifest = (app_repo / "lockstep.yaml").read_text().replace("components:", UAT, 1)
    return commit(app_repo, {"lockstep.yaml": manifest}, "add uat, fed by staging")


async def _enqueue(
    env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    repo: Path,
    sha: str,
    environment: str,
    trigger: str,
) -> Enqueued:
    return await enqueue_deployment(
        client=env.client, settings=settings, store=store, application="shop", environment=environment,
        repository=str(repo), commit=sha, trigger=trigger, actor="someone",
    )  # fmt: skip


async def test_a_commit_that_never_succeeded_in_staging_is_denied_whatever_the_trigger(
    temporal_env: WorkflowEnvironment,
    uat_worker: None,
    uat_settings: Settings,
    store: Store,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    uat_root = tmp_path / "uat"
    sha = _with_uat(app_repo)
    for trigger in ("manual", "webhook", "rollback", "remediation"):
        queued = await _enqueue(temporal_env, uat_settings, store, app_repo, sha, "uat", trigger)
        result = await deployment_result(temporal_env, queued.deployment_id)
        assert result.status == DeploymentStatus.DENIED, (trigger, result.error)
        assert result.error is not None and "uat takes only commits that succeeded in staging" in result.error
        assert f"commit {sha[:12]} has no successful deployment in staging" in result.error
        if trigger == "manual":
            await record_history(
                temporal_env.client.get_workflow_handle(queued.deployment_id),
                "deployment-denied-promote-from",
            )
        sha = commit(app_repo, {"web/index.html": f"<h1>{{{{ greeting }}}} {trigger}</h1>\n"}, trigger)
    assert not uat_root.exists() or not any(uat_root.iterdir()), "nothing was touched in uat"
    with store.session() as session:
        view = find_view(session, queued.deployment_id)
        events = events_for(session=session, deployment_id=queued.deployment_id)
    assert view is not None and view.status == DeploymentStatus.DENIED and not view.steps
    planned = next(e for e in events if e.kind == "planned")
    assert "succeeded in staging" in json.loads(planned.detail_json)["denied"]

    # Through the HTTP API, as a person with a token asks: queued, then denied the same way.
    app = create_app(uat_settings, store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
        answer = await api.post(
            "/deployments",
            json={"application": "shop", "environment": "uat", "ref": sha},
            headers={"Authorization": "Bearer alice-token"},
        )
    assert answer.status_code == 202, answer.text
    result = await deployment_result(temporal_env, answer.json()["id"])
    assert result.status == DeploymentStatus.DENIED and "succeeded in staging" in (result.error or "")
    sha = commit(app_repo, {"web/index.html": "<h1>{{ greeting }} at last</h1>\n"}, "for staging")

    # The way in: succeed in staging, and the success promotes the commit to uat.
    staged = await _enqueue(temporal_env, uat_settings, store, app_repo, sha, "staging", "manual")
    assert (await deployment_result(temporal_env, staged.deployment_id)).status == DeploymentStatus.SUCCEEDED
    promoted = f"shop.uat.{sha[:10]}"
    result = await deployment_result(temporal_env, promoted)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    assert current(uat_root, "web") == sha

    # A commit that drops promote_from from its own lockstep.yaml answers to the rule live in uat.
    loosened = (app_repo / "lockstep.yaml").read_text().replace("    promote_from: staging\n", "", 1)
    loose = commit(app_repo, {"lockstep.yaml": loosened}, "uat no longer waits for staging")
    queued = await _enqueue(temporal_env, uat_settings, store, app_repo, loose, "uat", "manual")
    result = await deployment_result(temporal_env, queued.deployment_id)
    assert result.status == DeploymentStatus.DENIED
    assert result.error is not None and "the lockstep.yaml live in the environment" in result.error
    assert current(uat_root, "web") == sha, "uat still runs what staging approved"
