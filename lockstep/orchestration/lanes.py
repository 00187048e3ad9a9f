"""Enqueueing a commit into its environment's lane: the one way deployments start.

Webhooks, polling, `POST /deployments`, `lockstep deploy` and promotions all come through here.
The lane is started on first use (update-with-start), so there is no separate setup. Redelivery
is harmless: the deployment id is derived from application, environment and commit, and the
lane or Temporal answers with the existing deployment.
"""

from __future__ import annotations

import asyncio
import random

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from lockstep.domain.errors import LockstepError
from lockstep.domain.lane_messages import LANE_WORKFLOW, Enqueued, LaneInput, LaneRequest, lane_id
from lockstep.domain.redaction import safe_url
from lockstep.orchestration.deployments import base_deployment_id, choose_deployment_id, timeouts_from
from lockstep.settings import Settings
from lockstep.store.engine import Store


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
) -> Enqueued:
    """Queue `commit` (a full sha of `repository`) for `environment`; return its deployment."""
    deployment_id, status = await choose_deployment_id(
        client, store, base_deployment_id(application, environment, commit)
    )
    if status is not None:  # running or succeeded already: nothing new starts
        return Enqueued(
            deployment_id=deployment_id, environment=environment, commit=commit, existing=True, status=status
        )
    lane = LaneInput(
        application=application,
        environment=environment,
        repository=safe_url(repository),
        timeouts=timeouts_from(settings),
    )
    request = LaneRequest(deployment_id=deployment_id, commit=commit, trigger=trigger, actor=actor)
    delay = 0.05
    for attempt in range(_ATTEMPTS):
        start: WithStartWorkflowOperation[LaneInput, None] = WithStartWorkflowOperation(
            LANE_WORKFLOW,  # workflows.lane.EnvironmentLane, by name: workflows import this module
            lane,
            id=lane_id(application, environment),
            task_queue=settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"Environment lane {application}/{environment}",
        )  # an operation is good for one call: a retry builds it again
        try:
            result: Enqueued = await asyncio.wait_for(
                client.execute_update_with_start_workflow(
                    "enqueue", request, start_workflow_operation=start, result_type=Enqueued
                ),
                timeout=ANSWER_TIMEOUT,
            )
            return result
        except TimeoutError:
            raise LaneUnanswered(
                f"the lane for {application}/{environment} did not answer within {ANSWER_TIMEOUT:.0f} s: "
                f"is a worker running on task queue {settings.temporal.task_queue!r}?"
            ) from None
        except (RPCError, WorkflowUpdateFailedError) as err:
            # A burst meets Temporal's cap on in-flight updates per workflow (RESOURCE_EXHAUSTED)
            # or an update cut short by the lane's continue-as-new: both pass; try again.
            if not _transient(err):
                raise
            if attempt == _ATTEMPTS - 1:
                raise LaneUnanswered(
                    f"the lane for {application}/{environment} is busy; try again ({err})"
                ) from err
        await asyncio.sleep(delay + random.uniform(0, delay))
        delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")


_ATTEMPTS = 30
ANSWER_TIMEOUT = 30.0  # an update needs a worker: without one, say so instead of hanging


class LaneUnanswered(LockstepError):
    retryable = True


def _transient(err: Exception) -> bool:
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, RPCError) and cause.status in (
            RPCStatusCode.RESOURCE_EXHAUSTED,
            RPCStatusCode.UNAVAILABLE,
            RPCStatusCode.ABORTED,
            RPCStatusCode.FAILED_PRECONDITION,  # "workflow task in failed state": it is retried
        ):
            return True
        cause = cause.__cause__
    return False
