"""Approvals on the real Temporal dev server (docs/approvals.md): quorum, duplicate approver, the commit's
author and non-members refused, rejection, timeout; policy deny and an unreachable engine.

Users: alice and bob are release managers; carol is one too but wrote the commit (her email is
the test author's); dave belongs to no approver group.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.approvals import ApprovalAnswer, ApprovalInput, ApprovalSource
from lockstep.domain.messages import DeploymentResult, DeploymentView
from lockstep.domain.policy import PolicyDecision
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.policy.embedded import EmbeddedPolicyEngine
from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from lockstep.store.governance import approvals_for, policy_decisions_for
from tests.support.apprepo import commit
from tests.support.fixtures import terminate_running
from tests.workflows.helpers import current, record_history
from workers.main import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def _with_environment(app_repo: Path, environment: str, approvals: str) -> str:
    manifest = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            "components:",
            f"  - name: {environment}\n    branch: main\n    targets: {{site: local-gated}}\n"
            f'    values: {{greeting: "hello {environment}"}}\n'
            f"    approvals: {approvals}\ncomponents:",
            1,
        )
    )
    return commit(app_repo, {"lockstep.yaml": manifest}, f"add {environment}")


async def _start(
    env: WorkflowEnvironment, settings: Settings, store: Store, git: GitMirrors, environment: str
) -> WorkflowHandle[object, DeploymentResult]:
    # As a release manager's token would start it: production takes manual deployments from
    # release managers only (policies/lockstep/deploy.rego).
    started = await start_deployment(
        client=env.client, settings=settings, store=store, git=git, application="shop",
        environment=environment, ref=None, actor="alice", actor_source="api-token",
    )  # fmt: skip
    return env.client.get_workflow_handle(started.id, result_type=DeploymentResult)


async def _awaiting(handle: WorkflowHandle[object, DeploymentResult]) -> DeploymentView:
    for _ in range(300):
        view: DeploymentView = await handle.query("status", result_type=DeploymentView)
        if view.status == DeploymentStatus.AWAITING_APPROVAL:
            return view
        assert not view.status.is_final, f"ended {view.status.value} before awaiting approval: {view.error}"
        await asyncio.sleep(0.1)
    raise AssertionError("never awaited approval")


async def _update(
    handle: WorkflowHandle[object, DeploymentResult], decision: str, who: str
) -> ApprovalAnswer:
    answer: ApprovalAnswer = await handle.execute_update(
        decision, ApprovalInput(approver=who), result_type=ApprovalAnswer
    )
    return answer


async def _refused(handle: WorkflowHandle[object, DeploymentResult], who: str) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await _update(handle, "approve", who)
    return str(refused.value.cause)


async def test_quorum_of_members_deploys_and_refusals_do_not_count(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    _with_environment(app_repo, "uat", "{required: 2, groups: [release-managers], timeout: 1h}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    view = await _awaiting(handle)
    assert view.approvals_required == 2
    assert current(tmp_path / "gated", "web") is None, "nothing changes before the quorum"
    in_ui = f'WorkflowId = "{handle.id}" AND LockstepStatus = "awaiting_approval"'
    for _ in range(100):  # the Temporal UI filters on the search attribute; visibility lags a little
        if [w.id async for w in temporal_env.client.list_workflows(in_ui)]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the Temporal UI cannot find it by LockstepStatus = awaiting_approval")

    assert "carol is the author of commit" in await _refused(handle, "carol")
    assert "not a member of release-managers" in await _refused(handle, "dave")
    assert "not a user of the server configuration" in await _refused(handle, "mallory")
    first = await _update(handle, "approve", "alice")
    assert first.counted and (first.approvals, first.required) == (1, 2)
    assert "already approved" in await _refused(handle, "alice")
    # A claimed name from the Temporal path (UI or `temporal workflow signal`) counts once too.
    await handle.signal("approve", {"approver": "dave", "comment": "me too"})  # stored, not counted
    await handle.signal("approve", {"approver": "bob", "comment": "looks good"})

    result = await handle.result()
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    await record_history(handle, "deployment-approved")
    assert current(tmp_path / "gated", "web") is not None
    with store.session() as session:
        decisions = approvals_for(session=session, deployment_id=handle.id)
        policy = policy_decisions_for(session=session, deployment_id=handle.id)
        audit = events_for(session=session, deployment_id=handle.id)
    assert [(d.approver, d.counted, d.source) for d in decisions] == [
        ("alice", True, "temporal-signal"),  # an update straight to Temporal is a claim too
        ("dave", False, "temporal-signal"),
        ("bob", True, "temporal-signal"),
    ], "refused updates never reach history; signals are stored, counted or not, with their source"
    assert "not a member of release-managers" in decisions[1].reason
    assert [p.stage for p in policy] == ["plan", "approved"], "policy runs again right before the change"
    kinds = [e.kind for e in audit]
    for kind in ("started", "planned", "policy_decision", "approval", "step_finished", "finished"):
        assert kind in kinds, f"no {kind} entry in the audit trail"
    assert kinds.count("approval") == 3


async def test_a_rejection_ends_it_before_any_change(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    _with_environment(app_repo, "uat", "{required: 2, groups: [release-managers]}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    await _awaiting(handle)
    await _update(handle, "approve", "alice")
    answer = await handle.execute_update(
        "reject", ApprovalInput(approver="bob", comment="not during the sale"), result_type=ApprovalAnswer
    )
    assert answer.counted
    result = await handle.result()
    assert result.status == DeploymentStatus.REJECTED
    assert result.error == "rejected by bob: not during the sale"
    await record_history(handle, "deployment-rejected")
    assert current(tmp_path / "gated", "web") is None


async def test_no_quorum_before_the_timeout_is_a_rejection(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    _with_environment(app_repo, "uat", "{required: 2, groups: [release-managers], timeout: 2s}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    await _awaiting(handle)
    await _update(handle, "approve", "alice")
    result = await handle.result()
    assert result.status == DeploymentStatus.REJECTED
    assert result.error == "approval timed out after 2s: 1 of 2 approvals"
    await record_history(handle, "deployment-approval-timed-out")
    assert current(tmp_path / "gated", "web") is None


async def test_policy_raises_the_quorum_in_a_protected_environment(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    _with_environment(app_repo, "production", "{required: 1, groups: [release-managers]}")
    handle = await _start(temporal_env, gated_settings, store, git, "production")
    view = await _awaiting(handle)
    assert view.approvals_required == 2, "the larger of the manifest's 1 and the policy's 2"
    await _update(handle, "approve", "alice")
    await _update(handle, "approve", "bob")
    assert (await handle.result()).status == DeploymentStatus.SUCCEEDED


async def test_an_unreachable_policy_engine_denies(
    temporal_env: WorkflowEnvironment,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    raw = gated_settings.model_dump()
    raw["policy"] = {"engine": "opa", "url": "http://127.0.0.1:9", "path": str(tmp_path / "no-bundle")}
    settings = Settings(**raw)
    try:
        async with build_worker(temporal_env.client, settings):
            handle = await _start(temporal_env, settings, store, git, "staging")
            result = await handle.result()
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert result.status == DeploymentStatus.DENIED
    assert result.error is not None and "unreachable" in result.error, result.error
    assert current(tmp_path / "target", "web") is None


async def test_an_image_tagged_latest_is_denied_in_production_before_any_change(
    temporal_env: WorkflowEnvironment,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    raw = gated_settings.model_dump()
    raw["targets"]["k8s-test"] = {"type": "kubernetes", "namespace": "shop"}  # never reached
    settings = Settings(**raw)
    cache = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cache}\n"
        "spec:\n  template:\n    spec:\n      containers: [{name: redis, image: 'redis:latest'}]\n"
    )
    manifest = (app_repo / "lockstep.yaml").read_text()
    manifest = manifest.replace("{site: local-test}", "{site: local-test, cluster: k8s-test}").replace(
        "components:",
        "  - name: production\n    branch: main\n    targets: {site: local-gated, cluster: k8s-test}\n"
        '    values: {greeting: "hello production"}\ncomponents:\n'
        "  - name: cache\n    target: cluster\n    kubernetes: {manifests: k8s/cache.yaml}",
        1,
    )
    commit(app_repo, {"lockstep.yaml": manifest, "k8s/cache.yaml": cache}, "cache on latest")
    try:
        async with build_worker(temporal_env.client, settings):
            handle = await _start(temporal_env, settings, store, git, "production")
            result = await handle.result()
            await record_history(handle, "deployment-denied")
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert result.status == DeploymentStatus.DENIED
    assert result.error is not None and "redis:latest" in result.error and "cache" in result.error
    assert current(tmp_path / "gated", "web") is None, "a denied deployment changes nothing"
    with store.session() as session:
        (decision,) = policy_decisions_for(session=session, deployment_id=handle.id)
    assert decision.denied and decision.engine == "embedded" and len(decision.bundle_revision) == 64
    assert len(decision.input_sha256) == 64


async def test_a_quorum_nobody_can_reach_is_rejected_at_once(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    # alice and bob are the only eligible release managers (carol wrote the commit): 3 cannot be met.
    _with_environment(app_repo, "uat", "{required: 3, groups: [release-managers], timeout: 24h}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == DeploymentStatus.REJECTED
    assert result.error is not None
    assert "needs 3 approval(s) but only 2 user(s) may give them (alice, bob" in result.error


async def test_an_update_claiming_the_api_without_its_proof_is_recorded_as_a_temporal_claim(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    _with_environment(app_repo, "uat", "{required: 2, groups: [release-managers]}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    await _awaiting(handle)
    forged = ApprovalInput(approver="alice", source=ApprovalSource.API_TOKEN, proof="0" * 64)
    await handle.execute_update("approve", forged, result_type=ApprovalAnswer)
    view: DeploymentView = await handle.query("status", result_type=DeploymentView)
    assert view.approvals[0]["source"] == "temporal-signal", "a claim is recorded as a claim"
    # An approver may change their mind: alice's rejection counts and ends it.
    await handle.execute_update("reject", ApprovalInput(approver="alice", comment="wait"))
    result = await handle.result()
    assert result.status == DeploymentStatus.REJECTED and result.error == "rejected by alice: wait"
    with store.session() as session:
        decisions = approvals_for(session=session, deployment_id=handle.id)
    assert [(d.decision, d.source) for d in decisions] == [
        ("approve", "temporal-signal"),
        ("reject", "temporal-signal"),
    ]


async def test_a_rejection_while_deploying_rolls_back_what_changed(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    counters: Path,
    tmp_path: Path,
) -> None:
    manifest = (app_repo / "lockstep.yaml").read_text()
    slow_web = manifest.replace(
        f"echo $LOCKSTEP_COMMIT >> {counters}/web", f"echo $LOCKSTEP_COMMIT >> {counters}/web; sleep 30"
    )
    commit(app_repo, {"lockstep.yaml": slow_web}, "slow web")
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers]}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    await _awaiting(handle)
    await _update(handle, "approve", "alice")
    while not (counters / "web").exists():  # db and api are switched; web's deploy runs
        await asyncio.sleep(0.05)
    answer = await handle.execute_update(
        "reject", ApprovalInput(approver="bob", comment="wrong build"), result_type=ApprovalAnswer
    )
    assert answer.counted
    result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == DeploymentStatus.REJECTED
    assert result.error == "rejected by bob while deploying: wrong build; rolled back"
    for component in ("db", "api", "web"):
        assert current(tmp_path / "gated", component) is None, f"{component} is back where it was"
    await record_history(handle, "deployment-rejected-while-deploying")


async def test_policy_may_ask_for_more_approvals_once_it_sees_them(
    temporal_env: WorkflowEnvironment,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "escalating"
    (bundle / "lockstep").mkdir(parents=True)
    (bundle / "lockstep" / "deploy.rego").write_text(
        "package lockstep.deploy\n\nimport rego.v1\n\ndeny := set()\n\nwarn := set()\n\n"
        "default approvals_required := 1\n\napprovals_required := 2 if count(input.approvals) >= 1\n"
    )
    raw = gated_settings.model_dump()
    raw["policy"] = {"engine": "embedded", "path": str(bundle)}
    settings = Settings(**raw)
    _with_environment(app_repo, "uat", "{required: 0, groups: [release-managers]}")
    try:
        async with build_worker(temporal_env.client, settings):
            handle = await _start(temporal_env, settings, store, git, "uat")
            assert (await _awaiting(handle)).approvals_required == 1
            await _update(handle, "approve", "alice")
            for _ in range(100):
                view = await handle.query("status", result_type=DeploymentView)
                if view.approvals_required == 2:
                    break
                await asyncio.sleep(0.1)
            assert view.status == DeploymentStatus.AWAITING_APPROVAL and view.approvals_required == 2
            await _update(handle, "approve", "bob")
            result = await handle.result()
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    with store.session() as session:
        stages = [p.stage for p in policy_decisions_for(session=session, deployment_id=handle.id)]
    assert stages == ["plan", "approved", "approved-2"]


async def test_an_environment_without_approver_groups_cannot_be_approved(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    _with_environment(app_repo, "uat", "{required: 1}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == DeploymentStatus.REJECTED
    assert result.error is not None and "names no approver groups" in result.error


async def test_a_rejection_while_policy_is_asked_again_still_ends_it(
    temporal_env: WorkflowEnvironment,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evaluate = EmbeddedPolicyEngine.evaluate_deploy

    def slow_once_approved(engine: EmbeddedPolicyEngine, document: Mapping[str, Any]) -> PolicyDecision:
        if document.get("approvals"):
            time.sleep(3)  # the second evaluation: time for a rejection to arrive meanwhile
        return evaluate(engine, document)

    monkeypatch.setattr(EmbeddedPolicyEngine, "evaluate_deploy", slow_once_approved)
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers]}")
    try:
        async with build_worker(temporal_env.client, gated_settings):
            handle = await _start(temporal_env, gated_settings, store, git, "uat")
            await _awaiting(handle)
            await _update(handle, "approve", "alice")
            await asyncio.sleep(0.5)
            answer = await handle.execute_update(
                "reject", ApprovalInput(approver="bob", comment="stop"), result_type=ApprovalAnswer
            )
            result = await asyncio.wait_for(handle.result(), 60)
    finally:
        await terminate_running(temporal_env, gated_settings.temporal.task_queue)
    assert answer.counted
    assert result.status == DeploymentStatus.REJECTED and result.error == "rejected by bob: stop"


async def test_a_malformed_proof_is_no_proof_and_stalls_nothing(
    temporal_env: WorkflowEnvironment,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    raw = gated_settings.model_dump()
    raw["users"]["alice"]["token_sha256"] = "ab" * 32
    settings = Settings(**raw)
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers]}")
    try:
        async with build_worker(temporal_env.client, settings):
            handle = await _start(temporal_env, settings, store, git, "uat")
            await _awaiting(handle)
            forged = ApprovalInput(approver="alice", source=ApprovalSource.API_TOKEN, proof="é")
            await asyncio.wait_for(handle.execute_update("approve", forged, result_type=ApprovalAnswer), 30)
            result = await asyncio.wait_for(handle.result(), 60)
    finally:
        await terminate_running(temporal_env, settings.temporal.task_queue)
    assert result.status == DeploymentStatus.SUCCEEDED
    with store.session() as session:
        [decision] = approvals_for(session=session, deployment_id=handle.id)
    assert decision.source == "temporal-signal"
