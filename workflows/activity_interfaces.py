"""The activities the workflows call: their registered names and signatures, without their code.

A workflow calls an activity by a reference (`workflow.execute_activity_method(
DeploymentActivities.prepare, ...)`), which gives Temporal the activity's name and the workflow
the type of its result. The references are these stubs, not the implementations in
`activities/`: those import the store, Git, the targets and the policy engine, and a workflow
module must reach no I/O library, not even through a passed-through import. The worker registers
the implementations (`workers.main`) under the same names (`lockstep.domain.temporal_names`);
tests/workflows/test_activity_interfaces.py checks that each stub matches its implementation.
"""

from __future__ import annotations

from temporalio import activity

from lockstep.domain.approvals import ApprovalRecord
from lockstep.domain.lane_messages import (
    Enqueued,
    JoinLane,
    LaneInput,
    LaneRecords,
    LaneRequest,
    NewestCommit,
    Promotion,
)
from lockstep.domain.messages import (
    ComponentRequest,
    ComponentResult,
    DeploymentRequest,
    OutcomeRecord,
    PolicyRequest,
    PrepareResult,
    StatusChange,
)
from lockstep.domain.policy import PolicyDecision
from lockstep.domain.polling_messages import PollInput, PollResult
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.sweep_messages import SweepRequest, SweepTargets, SweptEnvironment
from lockstep.domain.temporal_names import (
    ACTIVE_DEPLOYMENT,
    CLOSED_STATUS,
    DEPLOY_COMPONENT,
    EVALUATE_POLICY,
    JOIN_LANE,
    LIST_DRIFT_ENVIRONMENTS,
    PICK_NEWEST,
    POLL_REPOSITORY,
    PREPARE_DEPLOYMENT,
    PROMOTE,
    RECORD_APPROVAL,
    RECORD_LANE,
    RECORD_OUTCOME,
    RECORD_STATUS,
    REQUEUE,
    ROLLBACK_COMPONENT,
    SWEEP_DRIFT_ENVIRONMENT,
)


def _stub() -> NotImplementedError:
    return NotImplementedError("an activity interface: the worker runs the implementation in activities/")


class DeploymentActivities:
    """`activities.deployment.DeploymentActivities`"""

    @activity.defn(name=PREPARE_DEPLOYMENT)
    async def prepare(self, request: DeploymentRequest) -> PrepareResult:
        raise _stub()

    @activity.defn(name=DEPLOY_COMPONENT)
    async def deploy_component(self, request: ComponentRequest) -> ComponentResult:
        raise _stub()

    @activity.defn(name=ROLLBACK_COMPONENT)
    async def rollback_component(self, request: ComponentRequest) -> ComponentResult:
        raise _stub()


class GovernanceActivities:
    """`activities.governance.GovernanceActivities`"""

    @activity.defn(name=EVALUATE_POLICY)
    async def evaluate_policy(self, request: PolicyRequest) -> PolicyDecision:
        raise _stub()

    @activity.defn(name=RECORD_APPROVAL)
    async def record_approval(self, record: ApprovalRecord) -> str:
        raise _stub()


class RecordActivities:
    """`activities.records.RecordActivities`"""

    @activity.defn(name=RECORD_STATUS)
    async def record_status(self, change: StatusChange) -> None:
        raise _stub()

    @activity.defn(name=RECORD_OUTCOME)
    async def record_outcome(self, outcome: OutcomeRecord) -> None:
        raise _stub()

    @activity.defn(name=RECORD_LANE)
    async def record_lane(self, batch: LaneRecords) -> None:
        raise _stub()


class LaneActivities:
    """`activities.lane.LaneActivities`"""

    @activity.defn(name=JOIN_LANE)
    async def join_lane(self, join: JoinLane) -> str:
        raise _stub()

    @activity.defn(name=CLOSED_STATUS)
    async def closed_status(self, deployment_id: str) -> DeploymentStatus | None:
        raise _stub()

    @activity.defn(name=ACTIVE_DEPLOYMENT)
    async def active_deployment(self, lane: LaneInput) -> LaneRequest | None:
        raise _stub()

    @activity.defn(name=REQUEUE)
    async def requeue(self, queued: LaneRecords) -> None:
        raise _stub()

    @activity.defn(name=PROMOTE)
    async def promote(self, promotion: Promotion) -> Enqueued:
        raise _stub()

    @activity.defn(name=PICK_NEWEST)
    async def pick_newest(self, choice: NewestCommit) -> str:
        raise _stub()


class PollingActivities:
    """`activities.polling.PollingActivities`"""

    @activity.defn(name=POLL_REPOSITORY)
    async def poll_repository(self, poll: PollInput) -> PollResult:
        raise _stub()


class DriftActivities:
    """`activities.drift.DriftActivities`"""

    @activity.defn(name=LIST_DRIFT_ENVIRONMENTS)
    async def list_environments(self, limit: int) -> SweepTargets:
        raise _stub()

    @activity.defn(name=SWEEP_DRIFT_ENVIRONMENT)
    async def sweep_environment(self, request: SweepRequest) -> SweptEnvironment:
        raise _stub()
