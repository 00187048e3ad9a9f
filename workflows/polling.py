"""Polling one repository (issue 3, deliverable 7): started by its Temporal Schedule.

For repositories without webhooks, a schedule (`lockstep.orchestration.schedules`) starts this
workflow every `poll_interval`. It runs one activity that fetches the repository and enqueues
the head of every mapped branch into its environment's lane: the same path a webhook takes, so
a head already queued, running or deployed starts nothing new.

Orchestration only: fetching, reading manifests and enqueueing happen in the activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from lockstep.domain.polling_messages import PollInput, PollResult
    from lockstep.domain.temporal_names import POLL_WORKFLOW
    from workflows.activity_interfaces import PollingActivities

# A fetch may be slow (GitMirrors gives up on a stalled one after 10 minutes). Retries are few:
# the schedule starts another poll soon anyway, and overlapping polls are skipped meanwhile.
_POLL_TIMEOUT = timedelta(minutes=11)
_POLL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_attempts=3)


@workflow.defn(name=POLL_WORKFLOW)
class PollRepository:
    @workflow.run
    async def run(self, poll: PollInput) -> PollResult:
        return await workflow.execute_activity_method(
            PollingActivities.poll_repository,
            poll,
            start_to_close_timeout=_POLL_TIMEOUT,
            retry_policy=_POLL_RETRY,
            summary=f"poll {poll.repository}",
        )
