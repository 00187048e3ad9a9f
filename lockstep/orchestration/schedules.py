"""The Temporal Schedules that poll configured repositories (issue 3, deliverable 7).

One schedule per repository in the server configuration, `lockstep-poll-<name or url hash>`,
starts the PollRepository workflow every `poll_interval` (default 3m), skipping a tick while the
previous poll still runs. `ensure_poll_schedules` converges the cluster to the configuration:
it creates missing schedules, updates existing ones in place (keeping an operator's pause) and
deletes `lockstep-poll-*` schedules of repositories no longer configured. Only schedules that
start workflows on this installation's task queue are ever deleted, so installations sharing a
namespace leave each other's alone.

Deliberately does not: poll anything itself (the workflow and its activity do), nor put
credentials in a schedule: the action carries the repository URL without user info.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from lockstep.domain.polling_messages import (
    DEFAULT_POLL_INTERVAL,
    POLL_SCHEDULE_PREFIX,
    PollInput,
)
from lockstep.domain.redaction import safe_url
from lockstep.domain.temporal_names import POLL_WORKFLOW
from lockstep.settings import RepositorySettings, Settings

# A poll retries its activity a few times (see workflows/polling.py); past this it is stuck,
# and since overlapping runs are skipped it would hold back every later poll.
_POLL_EXECUTION_TIMEOUT = timedelta(hours=1)


def poll_schedule_id(repository: RepositorySettings) -> str:
    """`lockstep-poll-<sanitised name>`, or `lockstep-poll-<url hash>` for an unnamed repository."""
    if repository.name:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", repository.name).strip(".-")
        if name:
            return f"{POLL_SCHEDULE_PREFIX}{name[:100]}"
    return f"{POLL_SCHEDULE_PREFIX}{hashlib.sha256(safe_url(repository.url).encode()).hexdigest()[:16]}"


def poll_schedule(repository: RepositorySettings, *, task_queue: str) -> Schedule:
    """The schedule that polls `repository` every `poll_interval`."""
    schedule_id = poll_schedule_id(repository)
    every = repository.poll_interval or DEFAULT_POLL_INTERVAL
    return Schedule(
        action=ScheduleActionStartWorkflow(
            POLL_WORKFLOW,
            PollInput(repository=safe_url(repository.url)),
            id=schedule_id,  # Temporal appends the scheduled time
            task_queue=task_queue,
            execution_timeout=_POLL_EXECUTION_TIMEOUT,
            static_summary=f"Poll {safe_url(repository.url)}",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


def polled(repository: RepositorySettings) -> bool:
    """Polling is for repositories without webhooks; one with a webhook secret is polled only
    when it sets `poll_interval` itself (a safety net for missed deliveries)."""
    return repository.webhook_secret_env is None or repository.poll_interval is not None


async def ensure_poll_schedules(client: Client, settings: Settings) -> list[str]:
    """Create or update one poll schedule per configured repository and delete the schedules of
    repositories no longer configured; the ids of the schedules kept. Idempotent."""
    task_queue = settings.temporal.task_queue
    wanted = {
        poll_schedule_id(r): poll_schedule(r, task_queue=task_queue)
        for r in settings.repositories
        if polled(r)
    }
    for schedule_id, schedule in wanted.items():
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(schedule_id).update(_replacing_with(schedule))
    async for listed in await client.list_schedules():
        if listed.id.startswith(POLL_SCHEDULE_PREFIX) and listed.id not in wanted:
            await _delete_if_ours(client, listed.id, task_queue)
    return list(wanted)


def _replacing_with(schedule: Schedule) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        # Keep the schedule's state: a pause set by an operator survives a restart of the worker.
        return ScheduleUpdate(
            schedule=dataclasses.replace(schedule, state=current.description.schedule.state)
        )

    return update


async def _delete_if_ours(client: Client, schedule_id: str, task_queue: str) -> None:
    handle = client.get_schedule_handle(schedule_id)
    try:
        description = await handle.describe()
        action = description.schedule.action
        if isinstance(action, ScheduleActionStartWorkflow) and action.task_queue == task_queue:
            await handle.delete()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:  # deleted meanwhile (list results lag behind)
            raise
