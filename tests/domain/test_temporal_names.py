"""The names Temporal recorded stay what they were: each is in the histories of running and
finished workflows, in visibility queries and in schedules. A renamed constant fails here
before it strands a running workflow (the replay test covers only the names its histories use)."""

from __future__ import annotations

from lockstep.domain import temporal_names

RECORDED = {
    "DEPLOYMENT_WORKFLOW": "Deployment",
    "LANE_WORKFLOW": "EnvironmentLane",
    "POLL_WORKFLOW": "PollRepository",
    "STATUS_QUERY": "status",
    "TURN_SIGNAL": "turn",
    "APPROVE": "approve",
    "REJECT": "reject",
    "ENQUEUE_UPDATE": "enqueue",
    "ARRIVE_SIGNAL": "arrive",
    "FINISHED_SIGNAL": "finished",
    "RETIRE_SIGNAL": "retire",
    "HANDOVER_SIGNAL": "handover",
    "PREPARE_DEPLOYMENT": "prepare_deployment",
    "DEPLOY_COMPONENT": "deploy_component",
    "ROLLBACK_COMPONENT": "rollback_component",
    "EVALUATE_POLICY": "evaluate_policy",
    "RECORD_APPROVAL": "record_approval",
    "RECORD_STATUS": "record_status",
    "RECORD_OUTCOME": "record_outcome",
    "RECORD_LANE": "record_lane",
    "JOIN_LANE": "join_lane",
    "CLOSED_STATUS": "closed_status",
    "ACTIVE_DEPLOYMENT": "active_deployment",
    "REQUEUE": "requeue",
    "PROMOTE": "promote",
    "PICK_NEWEST": "pick_newest",
    "POLL_REPOSITORY": "poll_repository",
    "DRIFT_SWEEP_WORKFLOW": "DriftSweep",
    "LIST_DRIFT_ENVIRONMENTS": "list_drift_environments",
    "SWEEP_DRIFT_ENVIRONMENT": "sweep_drift_environment",
    "APPLICATION_ATTRIBUTE": "LockstepApplication",
    "ENVIRONMENT_ATTRIBUTE": "LockstepEnvironment",
    "COMMIT_ATTRIBUTE": "LockstepCommit",
    "STATUS_ATTRIBUTE": "LockstepStatus",
}


def test_every_recorded_name_is_unchanged() -> None:
    names = {n: v for n, v in vars(temporal_names).items() if n.isupper() and isinstance(v, str)}
    assert names == RECORDED


def test_the_search_attributes_are_the_four_keywords() -> None:
    assert temporal_names.SEARCH_ATTRIBUTES == (
        "LockstepApplication",
        "LockstepEnvironment",
        "LockstepCommit",
        "LockstepStatus",
    )
