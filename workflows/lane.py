"""The environment lane (docs/concepts.md): one long-running workflow per (application, environment).

It serialises deployments: a new commit never interleaves with a running one. Commits that
arrive while one deploys wait; when it ends, only the newest of them deploys and the others end
`superseded`. A success promotes the commit to the environments that name this one in
`promote_from`. The lane continues-as-new so its history stays bounded, carrying what is queued
and the recent outcomes.

Since the `signalled-lane` patch the lane owns only the turn: a deployment is a workflow from the
moment it is enqueued (so a webhook answers after one start, and Temporal's workflow ids decide
redeliveries), joins its lane with the signal `arrive`, waits for the signal `turn` (deploy, or
end superseded) and reports `finished`. Runs that began before the patch keep the older protocol
to their end: requests arrive by the update `enqueue` and the lane starts each deployment as its
child. What such a run still had queued is handed to the new protocol on continue-as-new. Such a
run continues as new only when something reaches it, so an idle one would speak the old protocol
forever: the signal `handover` (sent by every worker as it starts) makes it continue as new now.

Orchestration only: store writes, liveness checks and promotions go through activities.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from lockstep import search_attributes as sa
    from lockstep.domain.lane_choice import choose_turn, known_status, newest_of, remember
    from lockstep.domain.lane_messages import (
        Enqueued,
        LaneFinished,
        LaneInput,
        LaneRecord,
        LaneRecords,
        LaneRequest,
        LaneTurn,
        LaneView,
        NewestCommit,
        Promotion,
    )
    from lockstep.domain.messages import DeploymentRequest, DeploymentResult
    from lockstep.domain.retryability import promotion_non_retryable
    from lockstep.domain.status import DeploymentStatus
    from lockstep.domain.temporal_names import (
        ARRIVE_SIGNAL,
        ENQUEUE_UPDATE,
        FINISHED_SIGNAL,
        HANDOVER_SIGNAL,
        LANE_WORKFLOW,
        RETIRE_SIGNAL,
        STATUS_QUERY,
        TURN_SIGNAL,
    )
    from workflows.activity_interfaces import LaneActivities, RecordActivities

# Workflow modules are imported normally: the sandbox re-imports them with each run, so a
# nondeterministic call in them is refused there rather than silently passed through.
from workflows.deployment import DeploymentWorkflow

SIGNALLED_LANE = "signalled-lane"  # patch: deployments join by signal instead of by update
# Patch: the lane survives failed activities (settles a deployment it cannot reach, continues as
# new in the middle of a long turn, signals superseded deployments in chunks).
LANE_SURVIVES = "lane-survives"
SIGNAL_CHUNK = 50  # superseded deployments told per workflow task
_RECORD_TIMEOUT = timedelta(seconds=30)
_SHORT_ACTIVITY = timedelta(minutes=2)
_PROMOTION_PERMANENT = promotion_non_retryable()  # errors no retry of a promotion can fix


@workflow.defn(name=LANE_WORKFLOW)
class EnvironmentLane:
    @workflow.init
    def __init__(self, lane: LaneInput) -> None:
        self._lane = lane
        self._pending: list[LaneRequest] = list(lane.pending)
        self._recent: dict[str, DeploymentStatus] = dict(lane.recent)
        self._running: LaneRequest | None = lane.running  # carried when continued mid-turn
        self._to_record: list[LaneRecord] = []  # store rows to write, in order
        self._recording = False
        self._signalled = False  # which protocol this run speaks (see the module docstring)
        self._waiting: list[LaneRequest] = list(lane.waiting)  # joined, no turn yet
        self._finished: LaneFinished | None = lane.finished  # the running deployment's outcome
        self._unclaimed: LaneFinished | None = None  # an outcome that came while nothing ran
        self._retiring = lane.retiring  # end once idle (a lane under its older id; see `retire`)
        self._handover = False  # an update-driven run was asked to continue as a signalled one

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> LaneView:
        return LaneView(
            application=self._lane.application,
            environment=self._lane.environment,
            running=self._running.deployment_id if self._running else None,
            pending=[r.deployment_id for r in (*self._pending, *self._waiting)],
            recent=self._recent,
        )

    @workflow.update(name=ENQUEUE_UPDATE)
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
        if self._signalled:
            raise ValueError("this lane takes deployments that join it (signal arrive): upgrade the caller")
        if len(request.commit) != 40 or not request.deployment_id:
            raise ValueError(f"enqueue needs a full commit sha and a deployment id, got {request.commit!r}")

    @workflow.signal(name=ARRIVE_SIGNAL)
    def arrive(self, request: LaneRequest) -> None:
        """A queued deployment joins; a repeat (its join activity retried) changes nothing."""
        known = self._running is not None and self._running.deployment_id == request.deployment_id
        if known or request.deployment_id in self._recent:
            return
        if all(r.deployment_id != request.deployment_id for r in self._waiting):
            self._waiting.append(request)
            self._describe()

    @workflow.signal(name=FINISHED_SIGNAL)
    def finished(self, outcome: LaneFinished) -> None:
        """A deployment of this lane ended: the running one, or a waiting one that was cancelled."""
        self._remember(outcome.deployment_id, outcome.status)
        if self._running is not None and self._running.deployment_id == outcome.deployment_id:
            self._finished = outcome
        elif self._running is None:  # perhaps the one a new lane is about to adopt
            self._unclaimed = outcome
        self._waiting = [r for r in self._waiting if r.deployment_id != outcome.deployment_id]

    @workflow.signal(name=RETIRE_SIGNAL)
    def retire(self) -> None:
        """Sent to a lane still running under its id from before unambiguous ids, by each
        deployment that joins it: end once nothing runs or waits, so the lane under today's id
        (which starts only after this one has ended) takes over. Histories before it never had
        the signal, so they replay unchanged."""
        self._retiring = True

    @workflow.signal(name=HANDOVER_SIGNAL)
    def handover(self) -> None:
        """Continue as new now if this run speaks the update-driven protocol; else nothing."""
        self._handover = not self._signalled

    @workflow.run
    async def run(self, lane: LaneInput) -> None:
        if workflow.patched(SIGNALLED_LANE):
            await self._run_signalled(lane)
        else:
            await self._run_with_updates(lane)

    async def _run_signalled(self, lane: LaneInput) -> None:
        self._signalled = True
        if self._pending:  # queued by an update-driven run: no deployment workflow exists yet
            await workflow.execute_activity_method(
                LaneActivities.requeue,
                LaneRecords(
                    records=[self._lane_record(r, DeploymentStatus.QUEUED, None) for r in self._pending]
                ),
                start_to_close_timeout=_SHORT_ACTIVITY,
            )
            self._pending = []
        if self._running is None and workflow.info().continued_run_id is None:
            # A new lane (its predecessor failed or was terminated) first finds a deployment
            # that one let go and that still runs, and waits for it before any other turn.
            self._running = await self._active_deployment()
            claimed = self._unclaimed
            if self._running is not None and claimed and claimed.deployment_id == self._running.deployment_id:
                self._finished = claimed  # it ended while the lane looked for it
        if self._running is not None:  # carried from the previous run, or found running
            await self._follow(self._running, told=True)
        deployed = 0
        while True:
            self._describe()
            await workflow.wait_condition(
                lambda: (
                    bool(self._waiting) or self._retiring or workflow.info().is_continue_as_new_suggested()
                )
            )
            if self._retiring and not self._waiting:
                # Idle: end (no await between the check and the end; the handlers are sync). A
                # deployment that joins meanwhile either reached this run before it ended (Temporal
                # refuses to complete a run that has an unhandled signal) or finds it closed and
                # joins the lane under today's id.
                return
            if self._waiting and await self._grant_turn():
                deployed += 1
            if deployed >= lane.deployments_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._continue_as_new()

    def _continue_as_new(self) -> None:
        """Continue as new with what waits, what was decided and what runs now (if anything)."""
        workflow.continue_as_new(
            self._lane.model_copy(
                update={
                    "pending": [],
                    "waiting": self._waiting,
                    "recent": self._recent,
                    "running": self._running,
                    "finished": self._finished,
                    "retiring": self._retiring,
                }
            )
        )

    async def _grant_turn(self) -> bool:
        """Give the newest waiting deployment its turn and supersede the others; wait until it
        ends. False when the chosen one was withdrawn meanwhile (nothing deployed this round)."""
        batch = list(self._waiting)  # what joins while choosing waits for the next round
        candidate = await self._newest(batch)
        # What waits and what ended now, after the await: signals may have changed both.
        choice = choose_turn(self._waiting, batch, candidate, ended=self._recent)
        self._waiting = choice.queue
        if choice.deploy is None:  # cancelled meanwhile
            return False
        newest, older = choice.deploy, choice.superseded
        if workflow.patched(LANE_SURVIVES):
            # Running before the first await: a `finished` that arrives while the superseded are
            # told (the chosen one cancelled meanwhile) is the turn's outcome, never lost.
            self._running, self._finished = newest, None
        for request in older:
            self._remember(request.deployment_id, DeploymentStatus.SUPERSEDED)
        superseded = LaneTurn(superseded_by=newest.deployment_id)
        chunk = SIGNAL_CHUNK if len(older) > SIGNAL_CHUNK and workflow.patched(LANE_SURVIVES) else len(older)
        for start in range(0, len(older), max(chunk, 1)):  # a burst never makes one huge task
            await asyncio.gather(*(self._signal_turn(r, superseded) for r in older[start : start + chunk]))
        if self._running is None:  # began before the patch
            self._running, self._finished = newest, None
        try:
            await self._follow(newest, told=False)
        finally:
            self._running = None
        return True

    async def _follow(self, request: LaneRequest, *, told: bool) -> None:
        """Give `request` its turn (unless `told` already), wait for its end, promote on success."""
        try:
            if told or await self._signal_turn(request, LaneTurn()):
                outcome = await self._until_finished(request)
                await self._promote(request, outcome)
        finally:
            self._running = None

    async def _signal_turn(self, request: LaneRequest, turn: LaneTurn) -> bool:
        """Tell a waiting deployment its turn; False when it no longer exists (terminated)."""
        try:
            await workflow.get_external_workflow_handle(request.deployment_id).signal(TURN_SIGNAL, turn)
        except asyncio.CancelledError:
            raise
        except Exception:  # the deployment is gone: nothing waits for this turn
            if not workflow.patched(LANE_SURVIVES):
                self._remember(request.deployment_id, DeploymentStatus.FAILED)
                return False
            # Its own `finished` (say, cancelled while waiting) may have come first: keep that;
            # else settle it from Temporal and the store, which records why it ended.
            if self._finished is None or self._finished.deployment_id != request.deployment_id:
                self._remember(request.deployment_id, await self._closed(request) or DeploymentStatus.FAILED)
            return False
        return True

    async def _active_deployment(self) -> LaneRequest | None:
        if not workflow.patched(LANE_SURVIVES):
            return None
        try:
            return await workflow.execute_activity_method(
                LaneActivities.active_deployment,
                self._lane,
                start_to_close_timeout=_SHORT_ACTIVITY,
                # Until it answers: granting a turn without knowing could run two at once, and no
                # deployment gets anywhere while the store is down anyway.
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            )
        except ActivityError as err:  # a permanent failure (a bug): say so, serve on
            workflow.logger.warning("could not look for a running deployment: %s", err.cause or err)
            return None

    async def _closed(self, request: LaneRequest) -> DeploymentStatus | None:
        """The deployment's final status once its workflow closed (recording it if it never did);
        None while it runs, or when that cannot be told now (checked again later)."""
        try:
            return await workflow.execute_activity_method(
                LaneActivities.closed_status,
                request.deployment_id,
                start_to_close_timeout=_SHORT_ACTIVITY,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError as err:
            workflow.logger.warning("could not check on %s: %s", request.deployment_id, err.cause or err)
            return None

    async def _until_finished(self, request: LaneRequest) -> LaneFinished:
        """The running deployment's `finished` signal; if it was terminated and never sends one,
        a periodic check finds it closed and the lane moves on. A turn that outlasts
        `checks_per_run` checks (or Temporal's suggestion) continues as new, carrying it."""
        checks = 0
        while True:
            try:
                await workflow.wait_condition(
                    lambda: self._finished is not None,
                    timeout=timedelta(seconds=self._lane.check_seconds),
                )
            except TimeoutError:
                checks += 1
                survives = workflow.patched(LANE_SURVIVES)
                if survives:
                    closed = await self._closed(request)
                else:
                    closed = await workflow.execute_activity_method(
                        LaneActivities.closed_status,
                        request.deployment_id,
                        start_to_close_timeout=_SHORT_ACTIVITY,
                    )
                long_turn = (
                    checks >= self._lane.checks_per_run or workflow.info().is_continue_as_new_suggested()
                )
                if survives and closed is None and self._finished is None and long_turn:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    self._continue_as_new()
                if closed is not None and self._finished is None:
                    self._remember(request.deployment_id, closed)
                    return LaneFinished(deployment_id=request.deployment_id, status=closed)
            if self._finished is not None:
                return self._finished

    async def _promote(self, request: LaneRequest, outcome: LaneFinished) -> None:
        if outcome.status != DeploymentStatus.SUCCEEDED:
            return
        for environment in outcome.promotions:
            try:
                commit = outcome.commit or request.commit
                await self._promote_to(environment, commit, request.actor, source=request.deployment_id)
            except ActivityError as err:  # the promote activity audited why; the lane carries on
                if not workflow.patched(LANE_SURVIVES):
                    raise
                workflow.logger.warning(
                    "could not promote %s to %s: %s", request.deployment_id, environment, err.cause or err
                )

    async def _run_with_updates(self, lane: LaneInput) -> None:
        """The update-driven protocol of runs that began before `signalled-lane`."""
        recorder = asyncio.create_task(self._recorder())
        deployed = 0
        while True:
            self._describe()
            # Deployments that join by signal (`_waiting`) reach such a run only once the API
            # speaks the new protocol, and `handover` only from a worker that knows it: this run
            # then hands over by continuing as new. Old histories never have either, so they
            # replay unchanged; no timer could do this instead, since a run blocked here before
            # the timer existed gets no workflow task until something reaches it.
            await workflow.wait_condition(
                lambda: (
                    bool(self._pending or self._waiting)
                    or self._handover
                    or workflow.info().is_continue_as_new_suggested()
                )
            )
            if self._pending:
                batch = list(self._pending)  # what arrives while choosing waits for the next round
                newest = await self._newest(batch)
                choice = choose_turn(self._pending, batch, newest)  # what is pending after the await
                self._pending = choice.queue
                assert choice.deploy is not None  # nothing ends while queued in this protocol
                for request in choice.superseded:
                    self._remember(request.deployment_id, DeploymentStatus.SUPERSEDED)
                    self._record(
                        request, DeploymentStatus.SUPERSEDED, f"superseded by {choice.deploy.deployment_id}"
                    )
                await self._deploy(choice.deploy)
                deployed += 1
            handover = bool(self._waiting) or self._handover
            if (
                handover
                or deployed >= lane.deployments_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._to_record and not self._recording
                )
                recorder.cancel()
                workflow.continue_as_new(
                    lane.model_copy(
                        update={
                            "pending": self._pending,
                            "waiting": self._waiting,
                            "recent": self._recent,
                            "retiring": self._retiring,
                        }
                    )
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
            await self._promote_to(environment, result.commit or request.commit, request.actor)

    async def _promote_to(
        self, environment: str, commit: str, actor: str | None, *, source: str | None = None
    ) -> None:
        lane = self._lane
        await workflow.execute_activity_method(
            LaneActivities.promote,
            Promotion(
                application=lane.application,
                environment=environment,
                source_environment=lane.environment,
                repository=lane.repository,
                commit=commit,
                actor=actor,
                source_deployment=source,
            ),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=10, non_retryable_error_types=_PROMOTION_PERMANENT),
        )

    async def _newest(self, batch: list[LaneRequest]) -> LaneRequest:
        """The queued commit to deploy: the descendant of the others, per Git (an activity)."""
        if len(batch) == 1:
            return batch[0]
        survives = self._signalled and workflow.patched(LANE_SURVIVES)
        try:
            sha = await workflow.execute_activity_method(
                LaneActivities.pick_newest,
                NewestCommit(repository=self._lane.repository, commits=[r.commit for r in batch]),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_attempts=3) if survives else None,  # None: the default
            )
        except ActivityError as err:  # Git unreachable: the last to arrive is the best guess left
            if not survives:
                raise
            workflow.logger.warning("could not compare the queued commits: %s", err.cause or err)
            return batch[-1]
        found = newest_of(batch, sha)
        if found is None and not survives:  # before the patch an answer from outside the batch failed
            raise LookupError(f"pick_newest answered {sha}, which is not queued")
        return found if found is not None else batch[-1]

    def _known(self, deployment_id: str) -> DeploymentStatus | None:
        return known_status(deployment_id, running=self._running, queued=self._pending, recent=self._recent)

    def _remember(self, deployment_id: str, status: DeploymentStatus) -> None:
        remember(self._recent, deployment_id, status)

    def _describe(self) -> None:
        running = f"deploying {self._running.deployment_id}" if self._running else "idle"
        queued = ", ".join(r.deployment_id for r in (*self._pending, *self._waiting)) or "none"
        workflow.set_current_details(f"{running}; queued: {queued}")

    def _record(self, request: LaneRequest, status: DeploymentStatus, reason: str | None) -> None:
        self._to_record.append(self._lane_record(request, status, reason))

    def _lane_record(self, request: LaneRequest, status: DeploymentStatus, reason: str | None) -> LaneRecord:
        lane = self._lane
        return LaneRecord(
            application=lane.application,
            environment=lane.environment,
            repository=lane.repository,
            request=request,
            status=status,
            reason=reason,
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
