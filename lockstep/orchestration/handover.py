"""Handing lanes of the update-driven protocol over to the signalled one (issue 13, item 8).

A lane run that began before the `signalled-lane` patch keeps the update-driven protocol until
it continues as new, and it continues as new only when something reaches it: an idle one would
keep the old branch of `workflows.lane` alive, and its patch could never retire. A worker that
starts therefore signals `handover` to the running lanes of its task queue; a legacy run
continues as new at once (its successor speaks the signalled protocol), a signalled run ignores
it. The cost is one signal per open lane per worker start.

Deliberately does not: decide which runs are legacy (only the run itself knows), nor wait for
them to hand over.
"""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.service import RPCError

from lockstep.domain.temporal_names import HANDOVER_SIGNAL, LANE_WORKFLOW

MAX_LANES = 10_000  # lanes signalled per worker start; more are signalled by the next start
log = logging.getLogger("lockstep.handover")


async def hand_over_lanes(client: Client, task_queue: str, *, limit: int = MAX_LANES) -> int:
    """Signal `handover` to every running lane on `task_queue`; return how many were signalled."""
    if '"' in task_queue:  # it could not be quoted in the visibility query
        log.warning("task queue %r holds a double quote: no lane is handed over", task_queue)
        return 0
    query = f'WorkflowType = "{LANE_WORKFLOW}" AND ExecutionStatus = "Running" AND TaskQueue = "{task_queue}"'
    signalled = 0
    async for execution in client.list_workflows(query, limit=limit):
        try:
            await client.get_workflow_handle(execution.id, run_id=execution.run_id).signal(HANDOVER_SIGNAL)
        except RPCError as err:  # it closed or continued meanwhile: its successor needs nothing
            log.debug("lane %s took no handover signal: %s", execution.id, err)
            continue
        signalled += 1
    if signalled >= limit:
        log.warning("signalled the first %d running lanes only; the next worker start signals more", limit)
    return signalled
