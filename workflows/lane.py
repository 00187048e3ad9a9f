"""The environment lane (SPEC §4): one long-running workflow per (application, environment).

It serialises deployments: a new commit never interleaves with a running one. Commits that
arrive while one deploys wait; when it ends, only the newest of them deploys and the others end
`superseded`. A success promotes the commit to the environments that name this one in
`promote_from`. The lane continues-as-new so its history stays bounded, carrying what is queued
and the recent outcomes it uses to answer redeliveries.

Orchestration only: store writes and promotions go through activities.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.lane import LaneActivities
    from activities.records import RecordActivities
    from lockstep.domain.lane_messages import (
        LANE_WORKFLOW,
        Enqueued,
        LaneInput,
        LaneRecord,
        LaneRecords,
        LaneRequest,
        LaneView,
        NewestCommit,
        Promotion,
    )
    from lockstep.domain.messages import DeploymentRequest, DeploymentResult
    from lockstep.domain.status import DeploymentStatus
    from workflows import search_attributes as sa
    from workflows.deployment import DeploymentWorkflow

RECENT_KEPT = 200  # outcomes remembered across continue-as-new, to answer redeliveries
_RECORD_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name=LANE_WORKFLOW)
class EnvironmentLane:
    @workflow.init
    def __init__(self, lane: LaneInput) -> None:
        self._lane = lane
        self._pending: list[LaneRequest] = list(lane.pending)
        self._recent: dict[str, DeploymentStatus] = dict(lane.recent)
        self._running: LaneRequest | None = None
        self._to_record: list[LaneRecord] = []  # store rows to write, in order
        self._recording = False

    @workflow.query(name="status")
    def status(self) -> LaneView:
        return LaneView(
            application=self._lane.application,
            environment=self._lane.environment,
            running=self._running.deployment_id if self._running else None,
            pending=[r.deployment_id for r in self._pending],
            recent=self._recent,
        )

    @workflow.update(name="enqueue")
    def enqueue(self, request: LaneRequest) -> Enqueued:
        """Queue a commit; a request for a deployment the lane knows answers with it instead.

        A pure state change: it waits for nothing (the store row follows through the recorder),
        so a burst of updates is answered at once, within Temporal's in-flight update cap.
        """
        known = self._known(request.deployment_id)
        if known is not None:
            return Enqueued(
                deployment_id=request.deployment_id,
                environment=self._lane.environment,
                commit=request.commit,
                existing=True,
                status=known,
            )
        self._pending.append(request)
        self._describe()
        self._record(request, DeploymentStatus.QUEUED, None)
        return Enqueued(
            deployment_id=request.deployment_id, environment=self._lane.environment, commit=request.commit
        )

    @enqueue.validator
    def _validate(self, request: LaneRequest) -> None:
        if len(request.commit) != 40 or not request.deployment_id:
            raise ValueError(f"enqueue needs a full commit sha and a deployment id, got {request.commit!r}")

    @workflow.run
    async def run(self, lane: LaneInput) -> None:
        recorder = asyncio.create_task(self._recorder())
        deployed = 0
        while True:
            self._describe()
            await workflow.wait_condition(
                lambda: bool(self._pending) or workflow.info().is_continue_as_new_suggested()
            )
            if self._pending:
                batch = list(self._pending)  # what arrives while choosing waits for the next round
                newest = await self._newest(batch)
                older = [r for r in batch if r is not newest]
                self._pending = [r for r in self._pending if r not in batch]
                for request in older:
                    self._remember(request.deployment_id, DeploymentStatus.SUPERSEDED)
                    self._record(
                        request, DeploymentStatus.SUPERSEDED, f"superseded by {newest.deployment_id}"
                    )
                await self._deploy(newest)
                deployed += 1
            if deployed >= lane.deployments_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._to_record and not self._recording
                )
                recorder.cancel()
                workflow.continue_as_new(
                    lane.model_copy(update={"pending": self._pending, "recent": self._recent})
                )

    async def _deploy(self, request: LaneRequest) -> None:
        self._running = request
        self._describe()
        lane = self._lane
        try:
            result: DeploymentResult = await workflow.execute_child_workflow(
                DeploymentWorkflow.run,
                DeploymentRequest(
                    deployment_id=request.deployment_id,
                    application=lane.application,
                    environment=lane.environment,
                    repository=lane.repository,
                    commit=request.commit,
                    trigger=request.trigger,
                    actor=request.actor,
                    timeouts=lane.timeouts,
                ),
                id=request.deployment_id,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.APPLICATION, lane.application),
                        SearchAttributePair(sa.ENVIRONMENT, lane.environment),
                        SearchAttributePair(sa.COMMIT, request.commit),
                        SearchAttributePair(sa.STATUS, DeploymentStatus.QUEUED.value),
                    ]
                ),
                # A lane that is reset or terminated must not kill a deployment mid-change.
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary=f"{lane.application}/{lane.environment} at {request.commit[:12]}",
            )
        except WorkflowAlreadyStartedError:  # started outside this lane: not ours to follow
            return
        except ChildWorkflowError as err:  # terminated or timed out: the store may say less
            self._remember(request.deployment_id, DeploymentStatus.FAILED)
            self._record(request, DeploymentStatus.FAILED, f"deployment workflow ended: {err.cause or err}")
            return
        finally:
            self._running = None
        self._remember(request.deployment_id, result.status)
        for environment in result.promotions:
            await workflow.execute_activity_method(
                LaneActivities.promote,
                Promotion(
                    application=lane.application,
                    environment=environment,
                    source_environment=lane.environment,
                    repository=lane.repository,
                    commit=result.commit or request.commit,
                    actor=request.actor,
                ),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(
                    maximum_attempts=10, non_retryable_error_types=["ConfigError", "ManifestError"]
                ),
            )

    async def _newest(self, batch: list[LaneRequest]) -> LaneRequest:
        """The queued commit to deploy: the descendant of the others, per Git (an activity)."""
        if len(batch) == 1:
            return batch[0]
        sha = await workflow.execute_activity_method(
            LaneActivities.pick_newest,
            NewestCommit(repository=self._lane.repository, commits=[r.commit for r in batch]),
            start_to_close_timeout=timedelta(minutes=2),
        )
        return next(r for r in reversed(batch) if r.commit == sha)

    def _known(self, deployment_id: str) -> DeploymentStatus | None:
        if self._running is not None and self._running.deployment_id == deployment_id:
            return DeploymentStatus.DEPLOYING
        if any(r.deployment_id == deployment_id for r in self._pending):
            return DeploymentStatus.QUEUED
        return self._recent.get(deployment_id)

    def _remember(self, deployment_id: str, status: DeploymentStatus) -> None:
        self._recent[deployment_id] = status
        while len(self._recent) > RECENT_KEPT:
            del self._recent[next(iter(self._recent))]

    def _describe(self) -> None:
        running = f"deploying {self._running.deployment_id}" if self._running else "idle"
        queued = ", ".join(r.deployment_id for r in self._pending) or "none"
        workflow.set_current_details(f"{running}; queued: {queued}")

    def _record(self, request: LaneRequest, status: DeploymentStatus, reason: str | None) -> None:
        lane = self._lane
        self._to_record.append(
            LaneRecord(
                application=lane.application,
                environment=lane.environment,
                repository=lane.repository,
                request=request,
                status=status,
                reason=reason,
            )
        )

    async def _recorder(self) -> None:
        """Write queued/superseded/failed rows to the store, in order, a batch per activity."""
        while True:
            await workflow.wait_condition(lambda: bool(self._to_record))
            batch, self._to_record = self._to_record, []
            self._recording = True
            try:
                await workflow.execute_activity_method(
                    RecordActivities.record_lane,
                    LaneRecords(records=batch),
                    start_to_close_timeout=_RECORD_TIMEOUT,
                    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                )
            finally:
                self._recording = False
