"""An approval's proof cannot be made from what the server configuration holds (issue: reads leak).

A Temporal client that knows everything in `lockstep-server.yaml` (the users' `token_sha256`
included) sends `approve` updates claiming to be the API: with the HMAC the API used to send,
and with an Ed25519 signature of its own making. Both count for the claimed name, as the
Temporal path does, and both are recorded `temporal-signal`, never `api-token`. The approval
that really came through the API is tested in tests/api/test_approvals.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

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

TOKENS = {"alice": "token-of-alice", "bob": "token-of-bob"}


@pytest.fixture
def proof_settings(settings: Settings, tmp_path: Path) -> Settings:
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


def _hmac_of_token_hash(token_sha256: str, *, deployment_id: str, decision: str, approver: str) -> str:
    """The proof the API sent before this change, computable by anyone who reads the config."""
    message = f"lockstep-approval\n{deployment_id}\n{decision}\n{approver}".encode()
    return hmac.new(token_sha256.lower().encode(), message, hashlib.sha256).hexdigest()


async def _awaiting(handle: WorkflowHandle[object, DeploymentResult]) -> None:
    for _ in range(300):
        view = await handle.query("status", result_type=DeploymentView)
        if view.status == DeploymentStatus.AWAITING_APPROVAL:
            return
        assert not view.status.is_final, view.error
        await asyncio.sleep(0.1)
    raise AssertionError("never awaited approval")


async def test_proofs_made_from_the_server_configuration_are_recorded_as_claims(
    temporal_env: WorkflowEnvironment, proof_settings: Settings, store: Store, git: GitMirrors, app_repo: Path
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
    commit(app_repo, {"lockstep.yaml": manifest}, "add uat")
    try:
        async with build_worker(temporal_env.client, proof_settings):
            started = await start_deployment(
                client=temporal_env.client, settings=proof_settings, store=store, git=git,
                application="shop", environment="uat", ref=None,
            )  # fmt: skip
            handle = temporal_env.client.get_workflow_handle(started.id, result_type=DeploymentResult)
            await _awaiting(handle)
            token_hash = proof_settings.users["alice"].token_sha256 or ""
            from_config = _hmac_of_token_hash(
                token_hash, deployment_id=handle.id, decision="approve", approver="alice"
            )
            own_key = Ed25519PrivateKey.generate().sign(b"approve " + handle.id.encode() + b" bob").hex()
            for approver, proof in (("alice", from_config), ("bob", own_key)):
                forged = ApprovalInput(approver=approver, source=ApprovalSource.API_TOKEN, proof=proof)
                answer = await handle.execute_update("approve", forged, result_type=ApprovalAnswer)
                assert answer.counted, "the Temporal path counts the claimed name, as documented"
            result = await asyncio.wait_for(handle.result(), 60)
    finally:
        await terminate_running(temporal_env, proof_settings.temporal.task_queue)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    with store.session() as session:
        decisions = approvals_for(session=session, deployment_id=handle.id)
        audited = [e for e in events_for(session=session, deployment_id=handle.id) if e.kind == "approval"]
    assert [(d.approver, d.source) for d in decisions] == [
        ("alice", "temporal-signal"),
        ("bob", "temporal-signal"),
    ], "a proof anyone with the config can compute is no proof"
    assert [(e.actor, e.actor_source) for e in audited] == [
        ("alice", "temporal-signal"),
        ("bob", "temporal-signal"),
    ]
