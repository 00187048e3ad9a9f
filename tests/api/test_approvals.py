"""`POST /deployments/{id}/approve|reject` over HTTP, against a deployment awaiting approval on
the real Temporal dev server: the approver is the token's user, never a name in the body, and
only a decision that came through the API is recorded `api-token`. A Temporal client that knows
everything in the server configuration (token hashes included) and claims to be the API is
recorded `temporal-signal`."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from lockstep.api.app import create_app
from lockstep.domain.approvals import ApprovalAnswer, ApprovalInput, ApprovalSource
from lockstep.domain.messages import DeploymentResult, DeploymentView
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from lockstep.store.governance import approvals_for
from tests.support.apprepo import commit
from tests.support.fixtures import terminate_running
from workers.main import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.store]

TOKENS = {name: f"token-of-{name}" for name in ("alice", "bob", "carol", "dave")}
EMAILS = {"alice": "alice@example.com", "bob": "bob@example.com", "carol": "author@example.com"}


def _bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture
def api_settings(settings: Settings, tmp_path: Path) -> Settings:
    raw = settings.model_dump()
    raw["targets"]["local-uat"] = {"type": "local", "root": str(tmp_path / "uat")}
    raw["users"] = {
        name: {
            "groups": ["developers"] if name == "dave" else ["release-managers"],
            "email": EMAILS.get(name, f"{name}@example.com"),
            "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        }
        for name, token in TOKENS.items()
    }
    return Settings(**raw)


@pytest_asyncio.fixture
async def awaiting(
    temporal_env: WorkflowEnvironment, api_settings: Settings, store: Store, git: GitMirrors, app_repo: Path
) -> AsyncIterator[WorkflowHandle[object, DeploymentResult]]:
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
    commit(app_repo, {"lockstep.yaml": manifest}, "add uat")
    async with build_worker(temporal_env.client, api_settings):
        started = await start_deployment(
            client=temporal_env.client, settings=api_settings, store=store, git=git,
            application="shop", environment="uat", ref=None,
        )  # fmt: skip
        handle = temporal_env.client.get_workflow_handle(started.id, result_type=DeploymentResult)
        for _ in range(300):
            view = await handle.query("status", result_type=DeploymentView)
            if view.status == DeploymentStatus.AWAITING_APPROVAL:
                break
            assert not view.status.is_final, view.error
            await asyncio.sleep(0.1)
        yield handle
    await terminate_running(temporal_env, api_settings.temporal.task_queue)


@pytest_asyncio.fixture
async def http(api_settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(api_settings, store=store))
    async with httpx.AsyncClient(transport=transport, base_url="http://lockstep") as client:
        yield client


async def test_the_api_counts_the_token_user_and_refuses_who_may_not(
    awaiting: WorkflowHandle[object, DeploymentResult], http: httpx.AsyncClient, store: Store
) -> None:
    url = f"/deployments/{awaiting.id}/approve"
    assert (await http.post(url)).status_code == 401, "no token"
    assert (await http.post(url, headers={"Authorization": "Bearer nope"})).status_code == 401

    author = await http.post(url, headers=_bearer("carol"))
    assert author.status_code == 403 and "is the author of commit" in author.json()["detail"]
    outsider = await http.post(url, headers=_bearer("dave"))
    assert outsider.status_code == 403 and "not a member of release-managers" in outsider.json()["detail"]

    # A claimed name in the body is ignored: the approver is the token's user.
    first = await http.post(url, json={"comment": "ok", "approver": "bob"}, headers=_bearer("alice"))
    assert first.status_code == 200, first.text
    assert first.json()["counted"] and first.json()["approvals"] == 1 and first.json()["required"] == 2
    again = await http.post(url, headers=_bearer("alice"))
    assert again.status_code == 409 and "already approved" in again.json()["detail"]

    second = await http.post(url, headers=_bearer("bob"))
    assert second.status_code == 200 and second.json()["approvals"] == 2
    result = await awaiting.result()
    assert result.status == DeploymentStatus.SUCCEEDED, result.error

    late = await http.post(url, headers=_bearer("carol"))
    assert late.status_code == 404, "an ended deployment takes no decision"
    unknown = await http.post("/deployments/shop-uat-0000000000/approve", headers=_bearer("alice"))
    assert unknown.status_code == 404

    shown = (await http.get(f"/deployments/{awaiting.id}", headers=_bearer("alice"))).json()
    assert [(a["approver"], a["comment"], a["source"]) for a in shown["approvals"]] == [
        ("alice", "ok", "api-token"),
        ("bob", "", "api-token"),
    ]
    with store.session() as session:
        approvals = [
            e for e in events_for(session=session, deployment_id=awaiting.id) if e.kind == "approval"
        ]
    assert [(e.actor, e.actor_source) for e in approvals] == [("alice", "api-token"), ("bob", "api-token")]


async def test_a_rejection_through_the_api_ends_it(
    awaiting: WorkflowHandle[object, DeploymentResult], http: httpx.AsyncClient
) -> None:
    rejected = await http.post(
        f"/deployments/{awaiting.id}/reject", json={"comment": "freeze"}, headers=_bearer("bob")
    )
    assert rejected.status_code == 200 and rejected.json()["decision"] == "reject"
    result = await awaiting.result()
    assert result.status == DeploymentStatus.REJECTED and result.error == "rejected by bob: freeze"


def _hmac_of_token_hash(token_sha256: str, *, deployment_id: str, decision: str, approver: str) -> str:
    """The proof the API sent before it signed: computable by anyone who reads the config."""
    message = f"lockstep-approval\n{deployment_id}\n{decision}\n{approver}".encode()
    return hmac.new(token_sha256.lower().encode(), message, hashlib.sha256).hexdigest()


async def test_proofs_made_from_the_server_configuration_are_recorded_as_claims(
    awaiting: WorkflowHandle[object, DeploymentResult], api_settings: Settings, store: Store
) -> None:
    from_config = _hmac_of_token_hash(
        api_settings.users["alice"].token_sha256 or "",
        deployment_id=awaiting.id,
        decision="approve",
        approver="alice",
    )
    own_key = Ed25519PrivateKey.generate().sign(awaiting.id.encode()).hex()
    for approver, proof in (("alice", from_config), ("bob", own_key)):
        forged = ApprovalInput(approver=approver, source=ApprovalSource.API_TOKEN, proof=proof)
        answer = await awaiting.execute_update("approve", forged, result_type=ApprovalAnswer)
        assert answer.counted, "the Temporal path counts the claimed name, as documented"
    result = await awaiting.result()
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    with store.session() as session:
        decisions = approvals_for(session=session, deployment_id=awaiting.id)
        audited = [e for e in events_for(session=session, deployment_id=awaiting.id) if e.kind == "approval"]
    expected = [("alice", "temporal-signal"), ("bob", "temporal-signal")]
    assert [(d.approver, d.source) for d in decisions] == expected, "a proof anyone can compute is none"
    assert [(e.actor, e.actor_source) for e in audited] == expected
