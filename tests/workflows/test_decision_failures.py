"""Approve/reject signals that fail or do not parse never fail the Deployment workflow (real dev
server): a decision the store cannot take does not count and says so; a payload that is not an
approval is recorded, refused, in the audit trail instead of being dropped without a trace."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.messages import DeploymentResult, DeploymentView
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store import governance as governance_store
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from lockstep.store.governance import approvals_for
from tests.workflows.history_versions import record_history
from tests.workflows.test_approvals import _awaiting, _start, _with_environment

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def _view_until(handle: WorkflowHandle[object, DeploymentResult], entries: int) -> DeploymentView:
    """The view once `entries` decisions show as not counted (an entry shows as soon as its signal
    arrives, counted; a failed recording withdraws it a moment later)."""
    for _ in range(300):
        view: DeploymentView = await handle.query("status", result_type=DeploymentView)
        if len([a for a in view.approvals if a["counted"] == "false"]) >= entries:
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"never showed {entries} decisions")


async def test_a_decision_the_store_cannot_take_does_not_count_and_the_deployment_lives(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers], timeout: 1h}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    await _awaiting(handle)
    real = governance_store.record_approval

    def store_down(**kwargs: Any) -> Any:
        if kwargs["approver"] == "alice":
            raise ApplicationError("the database refused the write", non_retryable=True)
        return real(**kwargs)

    monkeypatch.setattr("activities.governance.record_approval", store_down)
    await handle.signal("approve", {"approver": "alice"})  # as the Temporal UI sends it
    view = await _view_until(handle, 1)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert view.status == DeploymentStatus.AWAITING_APPROVAL, "an unrecorded approval does not count"
    assert view.approvals[0]["counted"] == "false"
    assert "could not be recorded" in view.approvals[0]["reason"]
    await handle.signal("approve", {"approver": "bob"})
    result = await handle.result()
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    await record_history(handle, "deployment-decision-unrecorded")
    with store.session() as session:
        decisions = approvals_for(session=session, deployment_id=handle.id)
    assert [(d.approver, d.counted) for d in decisions] == [("bob", True)]


async def test_an_approval_counts_only_once_it_is_recorded(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While its recording is retried the approval does not count: the quorum of one is not met,
    the policy is not asked again, nothing deploys; when the recording fails, it never counted."""
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers], timeout: 1h}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    await _awaiting(handle)
    real = governance_store.record_approval
    attempts: list[str] = []

    def flaky(**kwargs: Any) -> Any:
        if kwargs["approver"] == "alice":
            attempts.append("alice")
            if len(attempts) < 3:
                raise RuntimeError("the database is restarting")  # retried
            raise ApplicationError("the database refused the write", non_retryable=True)
        return real(**kwargs)

    monkeypatch.setattr("activities.governance.record_approval", flaky)
    await handle.signal("approve", {"approver": "alice"})
    view = await _view_until(handle, 1)
    assert len(attempts) == 3
    assert view.status == DeploymentStatus.AWAITING_APPROVAL, "never deployed on an unrecorded approval"
    await handle.signal("approve", {"approver": "bob"})
    assert (await handle.result()).status == DeploymentStatus.SUCCEEDED
    with store.session() as session:
        decisions = approvals_for(session=session, deployment_id=handle.id)
    assert [(d.approver, d.counted) for d in decisions] == [("bob", True)]


async def test_an_unreadable_signal_is_recorded_not_dropped(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers], timeout: 1h}")
    handle = await _start(temporal_env, gated_settings, store, git, "uat")
    await _awaiting(handle)
    await handle.signal("approve", "yes please")  # not an approval object
    await handle.signal("reject", {"approver": "bob", "comment": "x" * 5000})  # past the bound
    view = await _view_until(handle, 2)
    assert [(a["approver"], a["decision"], a["counted"]) for a in view.approvals] == [
        ("(unreadable signal)", "approve", "false"),
        ("(unreadable signal)", "reject", "false"),
    ]
    assert "payload is not an approval" in view.approvals[0]["reason"]
    assert view.status == DeploymentStatus.AWAITING_APPROVAL, "neither counted"
    await handle.signal("approve", {"approver": "alice"})
    assert (await handle.result()).status == DeploymentStatus.SUCCEEDED
    await record_history(handle, "deployment-unreadable-signals")
    with store.session() as session:
        audit = events_for(session=session, deployment_id=handle.id)
    refused = [e for e in audit if e.actor == "(unreadable signal)"]
    assert [e.kind for e in refused] == ["approval", "rejection"]
