"""A deployment whose id has the form from before unambiguous ids (`<app>-<env>-<sha10>`), as one
running across an upgrade has: the API shows it and approves it by that id (real Temporal dev
server and worker; nothing reads names out of an id)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from lockstep.api.app import create_app
from lockstep.domain.ids import legacy_deployment_id
from lockstep.domain.messages import DeploymentRequest, DeploymentResult, DeploymentView
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.deployments import deployment_search_attributes, timeouts_from
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.support.fixtures import terminate_running
from workers.main import build_worker
from workflows.deployment import DeploymentWorkflow

pytestmark = [pytest.mark.temporal, pytest.mark.store]

TOKENS = {name: f"token-of-{name}" for name in ("alice", "bob")}


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    raw = settings.model_dump()
    raw["targets"]["local-uat"] = {"type": "local", "root": str(tmp_path / "uat")}
    raw["users"] = {
        name: {
            "groups": ["release-managers"],
            "email": f"{name}@example.com",
            "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        }
        for name, token in TOKENS.items()
    }
    return Settings(**raw)


@pytest_asyncio.fixture
async def cleanup(temporal_env: WorkflowEnvironment, api_settings: Settings) -> AsyncIterator[None]:
    yield
    await terminate_running(temporal_env, api_settings.temporal.task_queue)


async def test_an_older_id_is_shown_and_approved_by_that_id(
    temporal_env: WorkflowEnvironment, api_settings: Settings, store: Store, app_repo: Path, cleanup: None
) -> None:
    manifest = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            "components:",
            "  - name: uat\n    branch: main\n    targets: {site: local-uat}\n    values: {greeting: hi}\n"
            "    approvals: {required: 2, groups: [release-managers]}\ncomponents:",
            1,
        )
    )
    sha = commit(app_repo, {"lockstep.yaml": manifest}, "add uat")
    request = DeploymentRequest(
        deployment_id=legacy_deployment_id("shop", "uat", sha),
        application="shop",
        environment="uat",
        repository=str(app_repo),
        commit=sha,
        timeouts=timeouts_from(api_settings),
    )
    transport = httpx.ASGITransport(app=create_app(api_settings, store=store))
    async with (
        build_worker(temporal_env.client, api_settings),
        httpx.AsyncClient(transport=transport, base_url="http://lockstep") as http,
    ):
        handle = await temporal_env.client.start_workflow(
            DeploymentWorkflow.run,
            request,
            id=request.deployment_id,
            task_queue=api_settings.temporal.task_queue,
            search_attributes=deployment_search_attributes(request, DeploymentStatus.QUEUED),
        )
        for _ in range(300):
            view = await handle.query("status", result_type=DeploymentView)
            if view.status == DeploymentStatus.AWAITING_APPROVAL:
                break
            assert not view.status.is_final, view.error
            await asyncio.sleep(0.1)
        url = f"/deployments/{request.deployment_id}"
        for name in ("alice", "bob"):
            answer = await http.post(f"{url}/approve", headers={"Authorization": f"Bearer {TOKENS[name]}"})
            assert answer.status_code == 200, answer.text
        result = await temporal_env.client.get_workflow_handle(
            request.deployment_id, result_type=DeploymentResult
        ).result()
        shown = await http.get(url, headers={"Authorization": f"Bearer {TOKENS['alice']}"})
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    assert request.deployment_id == f"shop-uat-{sha[:10]}"
    assert shown.status_code == 200
    body = shown.json()
    assert (body["id"], body["status"]) == (request.deployment_id, "succeeded")
    assert [a["approver"] for a in body["approvals"]] == ["alice", "bob"]
