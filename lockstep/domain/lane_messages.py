"""Inputs, results and the `status` view of the environment lane workflow.

Fields are added with defaults only: lanes run for months and continue-as-new with these.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from lockstep.domain.messages import DeploymentTimeouts
from lockstep.domain.status import DeploymentStatus


class LaneRequest(BaseModel):
    """One commit asking to be deployed to the lane's environment."""

    deployment_id: str
    commit: str
    trigger: str = "manual"
    actor: str | None = None
    actor_source: str = ""


class LaneFinished(BaseModel):
    """A deployment of the lane ended (signal `finished`): its outcome and where it promotes."""

    deployment_id: str
    status: DeploymentStatus
    commit: str = ""
    promotions: list[str] = Field(default_factory=list)


class LaneInput(BaseModel):
    application: str
    environment: str
    repository: str  # without credentials: this lands in Temporal's history
    timeouts: DeploymentTimeouts = Field(default_factory=DeploymentTimeouts)
    pending: list[LaneRequest] = Field(default_factory=list)  # carried across continue-as-new
    recent: dict[str, DeploymentStatus] = Field(default_factory=dict)  # deployment id -> outcome
    deployments_per_run: int = 50  # continue-as-new after this many (or when Temporal suggests)
    # Deployments that joined and wait for their turn (signalled lanes), across continue-as-new.
    waiting: list[LaneRequest] = Field(default_factory=list)
    check_seconds: float = 300.0  # how often a lane asks whether its running deployment still lives
    # A deployment that runs for days (waiting for approval) must not grow one run's history
    # without bound: after this many liveness checks in one turn the lane continues as new,
    # carrying the running deployment (and its outcome if it came meanwhile) into the next run.
    checks_per_run: int = Field(200, ge=1)
    running: LaneRequest | None = None
    finished: LaneFinished | None = None
    # A lane under its id from before unambiguous ids (`lockstep.domain.ids`) ends once it has
    # nothing running or waiting; the lane under today's id takes over. Set by the signal `retire`.
    retiring: bool = False


class Enqueued(BaseModel):
    """What the lane answered: the deployment, and whether it existed before this request."""

    deployment_id: str
    environment: str
    commit: str
    existing: bool = False
    status: DeploymentStatus = DeploymentStatus.QUEUED


class JoinLane(BaseModel):
    """Input of join_lane: a queued deployment asking its lane for a turn."""

    lane: LaneInput
    request: LaneRequest


class LaneTurn(BaseModel):
    """The lane's answer to a queued deployment (signal `turn`): deploy now, or end superseded."""

    superseded_by: str | None = None


class LaneView(BaseModel):
    """What the lane's `status` query shows (and the Temporal UI's current details summarise)."""

    application: str
    environment: str
    running: str | None = None
    pending: list[str] = Field(default_factory=list)
    recent: dict[str, DeploymentStatus] = Field(default_factory=dict)


class Promotion(BaseModel):
    """Input of the promote activity: deploy `commit` to `environment` of `application`."""

    application: str
    environment: str
    source_environment: str
    repository: str
    commit: str
    actor: str | None = None
    source_deployment: str | None = None  # the deployment that succeeded (its audit trail)


class NewestCommit(BaseModel):
    """Input of pick_newest: commits queued in one lane, in arrival order."""

    repository: str
    commits: list[str]


class LaneRecord(BaseModel):
    """Input of record_queued / record_superseded."""

    application: str
    environment: str
    repository: str
    request: LaneRequest
    status: DeploymentStatus
    reason: str | None = None


class LaneRecords(BaseModel):
    """Input of record_lane: rows to write in this order."""

    records: list[LaneRecord] = Field(default_factory=list)
