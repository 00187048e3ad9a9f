"""Inputs and results of the deployment workflow and its activities, and the `status` view.

One input model and one result model per workflow and activity, carried by the pydantic data
converter. Add fields with defaults only: running workflows replay old payloads.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from lockstep.domain.approvals import ApprovalGate
from lockstep.domain.changes import ChangeAction, ChangeSet
from lockstep.domain.models import CommitInfo, Plan
from lockstep.domain.status import DeploymentStatus, StepStatus


class DeploymentTimeouts(BaseModel):
    """Durations the workflow passes to activities; configurable from the server settings."""

    activity_seconds: float = 1800.0
    heartbeat_seconds: float = 30.0
    command_seconds: float = 600.0
    max_output_bytes: int = 16384
    lane_check_seconds: float = 300.0  # see DeploymentSettings.lane_check_interval


class DeploymentRequest(BaseModel):
    """Input of the Deployment workflow: one application, environment and commit."""

    deployment_id: str
    application: str
    environment: str
    repository: str
    commit: str  # full sha, resolved by whoever started the deployment
    trigger: str = "manual"
    actor: str | None = None
    # How the actor was established (an ActorSource value); "" in requests made before it existed.
    actor_source: str = ""
    timeouts: DeploymentTimeouts = Field(default_factory=DeploymentTimeouts)
    # Queued in the environment's lane: join it and wait for a turn before planning. False for
    # deployments a lane started as its children (the update-driven lanes) and direct starts.
    lane: bool = False
    # A remediation (trigger `remediation`): these components of the commit are delivered again
    # even where their content is unchanged, and only these (the drifted ones). Empty otherwise.
    components: list[str] = Field(default_factory=list)


class PrepareResult(BaseModel):
    commit: CommitInfo
    plan: Plan
    promotions: list[str] = Field(default_factory=list)  # environments with promote_from = this one
    gate: ApprovalGate = Field(default_factory=ApprovalGate)  # the environment's approval rule
    denied: str | None = None  # why it may not deploy at all (promote_from not met): ends `denied`
    rules_changed: bool = False  # it changes the environment's rules: governed even if nothing deploys


class PolicyRequest(BaseModel):
    """Input of evaluate_policy: what the policy input (policies/README.md) is built from, and
    which evaluation this is."""

    deployment_id: str
    application: str
    environment: str
    commit: CommitInfo
    trigger: str = "manual"
    actor: str | None = None
    actor_source: str = ""  # only an `api-token` actor's groups reach the policy (trigger.groups)
    plan: Plan = Field(default_factory=Plan)
    approvals: list[dict[str, str]] = Field(default_factory=list)  # counted approvals: approver, at
    stage: str = "plan"  # plan | approved (right before the first change)


class ComponentRequest(BaseModel):
    """Input of deploy_component and rollback_component."""

    deployment_id: str
    application: str
    environment: str
    repository: str
    commit: str
    component: str
    content_hash: str
    timeouts: DeploymentTimeouts = Field(default_factory=DeploymentTimeouts)


class ComponentResult(BaseModel):
    component: str
    hosts: list[str] = Field(default_factory=list)
    changed: bool = False
    detail: str = ""
    changes: list[ChangeSet] = Field(default_factory=list)  # per host, or one for a cluster


class StatusChange(BaseModel):
    """Input of record_status: the system of record follows the workflow's status."""

    deployment_id: str
    status: DeploymentStatus
    error: str | None = None
    approvals_required: int | None = None  # the quorum, once governance has settled it


class OutcomeRecord(BaseModel):
    """Input of record_outcome: the final status and, on success, the revisions now live."""

    deployment_id: str
    application: str
    environment: str
    commit: str
    status: DeploymentStatus
    error: str | None = None
    deployed_hashes: dict[str, str] = Field(default_factory=dict)
    repository: str = ""
    trigger: str = "manual"
    actor: str | None = None
    approvals_required: int | None = None  # the quorum it needed, when it got that far


class StepChange(BaseModel):
    """One subject of a step's change set: a file path on a host, or `Kind/namespace/name`."""

    subject: str = Field(description="a file path on a host, or `Kind/namespace/name` of an object")
    action: ChangeAction
    summary: str = Field(default="", description="what changed, in a few words (may be empty)")


class StepChanges(BaseModel):
    """What a deploy or rollback step did at its location, as `lockstep status` and the API show
    it: exact counts per action, and the subjects as stored (at most 500, `MAX_CHANGES`)."""

    counts: dict[str, int] = Field(
        default_factory=dict, description="subjects per action (created, configured, unchanged, deleted)"
    )
    summary: str = Field(default="", description="the counts in words, e.g. `1 configured, 4 unchanged`")
    items: list[StepChange] = Field(default_factory=list, description="each subject, unchanged ones too")
    truncated: bool = Field(default=False, description="`items` lists fewer subjects than `counts`")
    unreachable: str | None = Field(default=None, description="why the location could not be looked at")

    @classmethod
    def of(cls, change_set: ChangeSet) -> StepChanges:
        counts = change_set.counts()
        items = [
            StepChange(subject=c.subject, action=c.action, summary=c.summary) for c in change_set.changes
        ]
        return cls(
            counts=counts,
            summary=change_set.summary(),
            items=items,
            truncated=len(items) < sum(counts.values()),
            unreachable=change_set.unreachable,
        )


class StepView(BaseModel):
    component: str
    host: str = ""
    action: str
    status: StepStatus
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    output: str | None = None
    changes: StepChanges | None = Field(
        default=None,
        description="what a deploy or rollback step changed once it returned; null: nothing recorded",
    )


class DeploymentView(BaseModel):
    """What the `status` query, `lockstep status` and `GET /deployments/{id}` show."""

    id: str
    application: str
    environment: str
    commit: str
    status: DeploymentStatus
    trigger: str = "manual"
    actor: str | None = None
    actor_source: str = ""  # only an `api-token` actor's groups reach the policy (trigger.groups)
    plan: Plan = Field(default_factory=Plan)
    steps: list[StepView] = Field(default_factory=list)
    approvals: list[dict[str, str]] = Field(default_factory=list)
    approvals_required: int = 0
    policy_warnings: list[str] = Field(default_factory=list)
    error: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    finished_at: str | None = None


class DeploymentResult(BaseModel):
    deployment_id: str
    status: DeploymentStatus
    error: str | None = None
    commit: str = ""
    promotions: list[str] = Field(default_factory=list)  # where a success promotes the commit
