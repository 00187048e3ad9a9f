"""Enqueueing a commit into its environment's lane: the one way deployments start.

Webhooks, polling, `POST /deployments`, `lockstep deploy`, rollbacks and promotions all come
through here. Enqueueing is one workflow start: the Deployment workflow exists (status `queued`)
from the moment the caller is answered, then joins its lane itself (`join_lane`, signal-with-start,
so the lane needs no setup) and waits for its turn. No worker takes part in the answer, so a burst
of webhooks costs what a burst of bare starts costs.

Redelivery is harmless: the deployment id is derived from application, environment and commit,
and Temporal's workflow id policies (fail on a running id, reject a used one) decide whether a
start is new; only then do the store and `describe` find the existing deployment (or, for a
person or a promotion asking again after a failure, or a rollback to a commit that succeeded
before, the next attempt's id). A deployment of the commit under an id from before unambiguous
ids answers first (`older_ids`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from lockstep.domain.audit import actor_source_for
from lockstep.domain.errors import LockstepError
from lockstep.domain.ids import lane_id, legacy_lane_id
from lockstep.domain.lane_messages import Enqueued, JoinLane, LaneInput
from lockstep.domain.messages import DeploymentRequest, DeploymentResult
from lockstep.domain.redaction import safe_url
from lockstep.domain.rollback_target import REMEDIATION_TRIGGER, ROLLBACK_TRIGGER
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import ARRIVE_SIGNAL, DEPLOYMENT_WORKFLOW, LANE_WORKFLOW, RETIRE_SIGNAL
from lockstep.orchestration.deployments import (
    base_deployment_id,
    choose_deployment_id,
    deployment_search_attributes,
    timeouts_from,
)
from lockstep.orchestration.older_ids import older_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store

_ATTEMPTS = 5  # concurrent callers racing for the same next attempt id
# Who may start a commit again after its deployment ended without success: a person asking
# (`lockstep deploy`, `POST /deployments`) and a promotion (the source environment succeeded again).
# A redelivered webhook or the next poll answers with the ended deployment instead: a Git host
# redelivering an old push must not deploy an old commit over a newer one, and a poll must not
# redeploy a broken head every interval.
RETRYING_TRIGGERS = frozenset({"manual", "promotion", ROLLBACK_TRIGGER, REMEDIATION_TRIGGER})
# A rollback goes back to a commit that succeeded here before and was replaced since, and a
# remediation delivers the live commit again: each is a new attempt of that commit, not an answer
# with the old deployment (one still queued or running for the commit does answer).
REDEPLOYING_TRIGGERS = frozenset({ROLLBACK_TRIGGER, REMEDIATION_TRIGGER})


async def enqueue_deployment(
    *,
    client: Client,
    settings: Settings,
    store: Store,
    application: str,
    environment: str,
    repository: str,
    commit: str,
    trigger: str,
    actor: str | None,
    actor_source: str | None = None,
    components: Sequence[str] = (),
) -> Enqueued:
    """Queue `commit` (a full sha of `repository`) for `environment`; return its deployment.

    `actor_source` says how `actor` was established; by default it follows from the trigger
    (`lockstep.domain.audit.actor_source_for`). `components` (a remediation) are delivered
    again even where unchanged, and nothing else is.
    """
    request = DeploymentRequest(
        deployment_id=base_deployment_id(application, environment, commit),
        application=application,
        environment=environment,
        repository=safe_url(repository),  # no credentials in workflow history
        commit=commit,
        trigger=trigger,
        actor=actor,
        actor_source=actor_source or actor_source_for(trigger, actor),
        timeouts=timeouts_from(settings),
        lane=True,
        components=sorted(set(components)),
    )
    retry_ended = trigger in RETRYING_TRIGGERS
    again_after_success = trigger in REDEPLOYING_TRIGGERS
    # A deployment of this commit from before unambiguous ids answers as its id policies promised.
    older = await older_deployment(client, store, request, retry_ended=retry_ended)
    if older is not None and not (again_after_success and older[1] == DeploymentStatus.SUCCEEDED):
        return _answer(request.model_copy(update={"deployment_id": older[0]}), existing=True, status=older[1])
    # The common case, a commit never deployed here, costs that one primary-key read and one start.
    if await start_queued(client, settings, request):
        return _answer(request, existing=False, status=DeploymentStatus.QUEUED)
    for _ in range(_ATTEMPTS):
        deployment_id, status = await choose_deployment_id(
            client,
            store,
            request.deployment_id,
            retry_ended=retry_ended,
            again_after_success=again_after_success,
        )
        attempt = request.model_copy(update={"deployment_id": deployment_id})
        if status is not None:  # running or succeeded already: nothing new starts
            return _answer(attempt, existing=True, status=status)
        if await start_queued(client, settings, attempt):
            return _answer(attempt, existing=False, status=DeploymentStatus.QUEUED)
    raise AssertionError(f"no attempt id for {request.deployment_id} after {_ATTEMPTS} tries")


async def start_queued(client: Client, settings: Settings, request: DeploymentRequest) -> bool:
    """Start the queued deployment under its id; False when that id runs or ran already."""
    try:
        await client.start_workflow(
            DEPLOYMENT_WORKFLOW,
            request,
            result_type=DeploymentResult,
            id=request.deployment_id,
            task_queue=settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=deployment_search_attributes(request, DeploymentStatus.QUEUED),
            static_summary=f"{request.application}/{request.environment} at {request.commit[:12]}",
            execution_timeout=timedelta(days=30),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def _answer(request: DeploymentRequest, *, existing: bool, status: DeploymentStatus) -> Enqueued:
    return Enqueued(
        deployment_id=request.deployment_id,
        environment=request.environment,
        commit=request.commit,
        existing=existing,
        status=status,
    )


class LaneHandoverRace(LockstepError):
    """The environment's lane under its older id kept ending and starting again while a
    deployment tried to join it (a process of an older Lockstep still starts it). Retried."""


async def join_lane(*, client: Client, settings: Settings, join: JoinLane) -> str:
    """Tell the environment's lane that a queued deployment waits for a turn; the lane's id.

    Normally a signal-with-start of the lane under its id (`lockstep.domain.ids.lane_id`): the
    lane starts if it is not running. A lane still running under the id from before unambiguous
    ids keeps the turn instead: while it runs, a deployment of its environment may be deploying
    or waiting there, and two lanes granting turns would let two deploy at once. So the
    deployment joins that lane and asks it to retire (end once nothing runs or waits); the lane
    under today's id starts only when a join finds the older one closed. The older id is
    computed for this exact (application, environment), never read back out of an id; two pairs
    that shared it keep sharing that lane until it retires, as they did before.
    """
    lane: LaneInput = join.lane
    legacy = client.get_workflow_handle(legacy_lane_id(lane.application, lane.environment))
    for _ in range(_ATTEMPTS):
        if not await _lane_running(legacy):
            return await _join_current(client, settings, join)
        try:
            await legacy.signal(ARRIVE_SIGNAL, join.request)
            await legacy.signal(RETIRE_SIGNAL)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            continue  # it ended (retired, or terminated) between the look and the signal
        return legacy.id
    raise LaneHandoverRace(
        f"{legacy.id} kept closing and starting again while {join.request.deployment_id} joined it"
    )


async def _lane_running(handle: WorkflowHandle[object, object]) -> bool:
    """Whether a lane runs under this id (anything else there, e.g. a deployment, is no lane)."""
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return (
        description.status == WorkflowExecutionStatus.RUNNING and description.workflow_type == LANE_WORKFLOW
    )


async def _join_current(client: Client, settings: Settings, join: JoinLane) -> str:
    """Signal-with-start the lane under today's id."""
    lane = join.lane
    handle = await client.start_workflow(
        LANE_WORKFLOW,
        lane,
        id=lane_id(lane.application, lane.environment),
        task_queue=settings.temporal.task_queue,
        start_signal=ARRIVE_SIGNAL,
        start_signal_args=[join.request],
        static_summary=f"Environment lane {lane.application}/{lane.environment}",
    )
    return handle.id
