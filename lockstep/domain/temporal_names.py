"""The names Temporal records: workflow types, signals, queries, updates, activities and search
attributes, shared by whoever starts or talks to a workflow and whoever implements it.

The orchestration side (`lockstep.orchestration`, the CLI) starts, signals and queries workflows
by these names; the workflows and activities register under them; neither imports the other.
Every value is in the histories of running and finished workflows (and in visibility queries and
schedules): changing one breaks replay and strands what runs. Add names; never rename one.

Deliberately plain strings: the domain imports no Temporal SDK. The typed search attribute keys
built from these names are in `lockstep.search_attributes`.
"""

from __future__ import annotations

from typing import Final

# -- workflow types ---------------------------------------------------------------------------
DEPLOYMENT_WORKFLOW: Final = "Deployment"
LANE_WORKFLOW: Final = "EnvironmentLane"
POLL_WORKFLOW: Final = "PollRepository"
DRIFT_SWEEP_WORKFLOW: Final = "DriftSweep"

# -- signals, queries and updates -------------------------------------------------------------
STATUS_QUERY: Final = "status"  # a Deployment's DeploymentView, a lane's LaneView
# Deployment: the lane's answer to a queued deployment (LaneTurn).
TURN_SIGNAL: Final = "turn"
# Deployment: a decision on its approval gate, each both a signal (a claimed approver, the Temporal
# UI's way) and an update (validated before it reaches history, the API's and the CLI's way).
APPROVE: Final = "approve"
REJECT: Final = "reject"
# EnvironmentLane
ENQUEUE_UPDATE: Final = "enqueue"  # the update-driven lanes of before the signalled protocol
ARRIVE_SIGNAL: Final = "arrive"  # a queued deployment waits for its turn (LaneRequest)
FINISHED_SIGNAL: Final = "finished"  # a deployment of the lane ended (LaneFinished)
RETIRE_SIGNAL: Final = "retire"  # a lane under its older id ends once idle
HANDOVER_SIGNAL: Final = "handover"  # a lane of the update-driven protocol continues as new

# -- activities -------------------------------------------------------------------------------
PREPARE_DEPLOYMENT: Final = "prepare_deployment"
DEPLOY_COMPONENT: Final = "deploy_component"
ROLLBACK_COMPONENT: Final = "rollback_component"
EVALUATE_POLICY: Final = "evaluate_policy"
RECORD_APPROVAL: Final = "record_approval"
RECORD_STATUS: Final = "record_status"
RECORD_OUTCOME: Final = "record_outcome"
RECORD_LANE: Final = "record_lane"
JOIN_LANE: Final = "join_lane"
CLOSED_STATUS: Final = "closed_status"
ACTIVE_DEPLOYMENT: Final = "active_deployment"
REQUEUE: Final = "requeue"
PROMOTE: Final = "promote"
PICK_NEWEST: Final = "pick_newest"
POLL_REPOSITORY: Final = "poll_repository"
LIST_DRIFT_ENVIRONMENTS: Final = "list_drift_environments"
SWEEP_DRIFT_ENVIRONMENT: Final = "sweep_drift_environment"

# -- search attributes (all of type keyword) --------------------------------------------------
APPLICATION_ATTRIBUTE: Final = "LockstepApplication"
ENVIRONMENT_ATTRIBUTE: Final = "LockstepEnvironment"
COMMIT_ATTRIBUTE: Final = "LockstepCommit"
STATUS_ATTRIBUTE: Final = "LockstepStatus"
SEARCH_ATTRIBUTES: Final = (APPLICATION_ATTRIBUTE, ENVIRONMENT_ATTRIBUTE, COMMIT_ATTRIBUTE, STATUS_ATTRIBUTE)
