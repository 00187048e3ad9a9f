"""What a lane that starts afresh must wait for: a deployment its predecessor gave a turn to.

A lane run that was terminated or failed may have let a deployment go (signal `turn`) that still
runs. The lane that replaces it must not grant another turn until that one ends, or two
deployments of one environment would change it at once. Two witnesses, most precise first:

1. the predecessor's own history: the last `turn` it sent that superseded nothing names the
   deployment it let go (whatever that deployment has recorded yet);
2. the store and Temporal: a running deployment of the environment whose status is past
   `queued` (the store's, or the `LockstepStatus` it sets as it takes its turn).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from lockstep import search_attributes as sa
from lockstep.domain.lane_messages import LaneRequest
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import TURN_SIGNAL


@dataclass(frozen=True)
class Unfinished:
    """A deployment of the environment the store has not seen end, and the status it recorded."""

    request: LaneRequest
    status: str


async def running_turn(
    client: Client, *, lane_workflow_id: str, unfinished: list[Unfinished]
) -> LaneRequest | None:
    """The deployment of this environment that holds a turn and still runs, if any. `unfinished`:
    the store's unfinished deployments of the environment, newest first."""
    known = {u.request.deployment_id: u.request for u in unfinished}
    granted = await _last_turn_granted(client, lane_workflow_id)
    if granted is not None and await _status(client, granted) is not None:
        return known.get(granted) or LaneRequest(deployment_id=granted, commit="")
    for candidate in unfinished:
        live = await _status(client, candidate.request.deployment_id)
        if live is None:
            continue
        if candidate.status != DeploymentStatus.QUEUED.value or live != DeploymentStatus.QUEUED.value:
            return candidate.request
    return None


async def _status(client: Client, deployment_id: str) -> str | None:
    """The `LockstepStatus` of a running deployment; None when it is not running."""
    try:
        description = await client.get_workflow_handle(deployment_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if description.status != WorkflowExecutionStatus.RUNNING:
        return None
    return description.typed_search_attributes.get(sa.STATUS) or DeploymentStatus.QUEUED.value


async def _last_turn_granted(client: Client, lane_workflow_id: str) -> str | None:
    """The deployment the lane's last closed run last let go (a `turn` that superseded none)."""
    query = f'WorkflowId = "{lane_workflow_id}" AND ExecutionStatus != "Running"'
    latest = None
    async for run in client.list_workflows(query, limit=20):
        if latest is None or (run.close_time and latest.close_time and run.close_time > latest.close_time):
            latest = run
    if latest is None:
        return None
    history = await client.get_workflow_handle(lane_workflow_id, run_id=latest.run_id).fetch_history()
    granted = None
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:  # carried in
            started = event.workflow_execution_started_event_attributes.input.payloads
            running = (json.loads(started[0].data) if started else {}).get("running") or {}
            granted = running.get("deployment_id") or granted
        if event.event_type != EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            continue
        attributes = event.signal_external_workflow_execution_initiated_event_attributes
        if attributes.signal_name != TURN_SIGNAL:
            continue
        payloads = attributes.input.payloads
        turn = json.loads(payloads[0].data) if payloads else {}
        if not turn.get("superseded_by"):
            granted = attributes.workflow_execution.workflow_id
    return granted
