"""Saved histories of the Deployment workflow must replay against today's code.

A change that would break running deployments (new commands in a different order, without
`workflow.patched`) fails here. Refresh the histories only for a deliberate, guarded change:
`LOCKSTEP_RECORD_HISTORIES=1 pytest tests/workflows/test_deployment.py` (and test_lane.py,
test_lane_ids.py, test_approvals.py, test_failure_modes.py, test_promotion_rule.py, test_change_authors.py,
test_ssh_rollback.py). Histories of a path as it ran before a patch (named below) cannot be
recorded again by today's code: keep them as they are.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.deployment import DeploymentWorkflow
from workflows.lane import EnvironmentLane

HISTORIES = sorted((Path(__file__).resolve().parents[1] / "histories").glob("*.json"))


def test_histories_are_present() -> None:
    names = {p.stem for p in HISTORIES}
    assert {
        "deployment-succeeded",
        "deployment-rolled-back",
        "lane-coalesced",  # the update-driven lane, before the `signalled-lane` patch
        "lane-signalled",
        "deployment-in-lane-succeeded",
        "deployment-in-lane-superseded",
        "deployment-approved",  # governance: update, signal, policy twice
        "deployment-rejected",
        "deployment-approval-timed-out",
        "deployment-denied",
        "deployment-rejected-while-deploying",
        "deployment-internal-error",  # `fail-cleanly`: an exception in workflow code ends it failed
        "deployment-denied-promote-from",  # `promote-from`: never succeeded in staging
        "deployment-rules-changed",  # `rules-changed`: nothing to deploy, the rules governed
        "deployment-failed-nothing-to-undo",  # `nothing-to-undo`: an unknown host key ends it failed
        # Before `nothing-to-undo`: the same refusal, whose rollback then tried to connect too and
        # ended `rollback_failed` (recorded on the code of b1bf505).
        "deployment-refused-rollback-failed",
        # Unambiguous ids: the join answers the lane it joined. The in-lane histories above are
        # from before (their join answered nothing: they joined `lane-<app>-<env>`) and must stay.
        "deployment-in-lane-older-ids",  # a copy of deployment-in-lane-succeeded as recorded then
        "deployment-in-lane-unambiguous",
        "deployment-joined-older-lane",  # joined a lane still running under its older id
        "deployment-join-cut-short",  # `unambiguous-ids`: cancelled mid-join, tells both lanes
        "lane-retired",  # the older lane, asked to `retire`, served one more and ended idle
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay(path: Path) -> None:
    replayer = Replayer(
        workflows=[DeploymentWorkflow, EnvironmentLane], data_converter=pydantic_data_converter
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
