"""The Deployment workflow (docs/concepts.md): one application, environment and commit.

Check out and render -> plan -> deploy wave by wave (a wave's components in parallel, health
verified inside each component's activity) -> on failure or cancellation after changes began,
compensate every component this run touched, in reverse dependency order -> record the outcome.

It owns ordering, compensation and status; it does no I/O. Rendering, targets and the store are
reached only through activities. Policy and approvals (`workflows.governance`) run between the
plan and the first change, guarded by `workflow.patched("governance")` so deployments that
started before them replay unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from lockstep import search_attributes as sa
    from lockstep.domain import final_status
    from lockstep.domain.ids import legacy_lane_id
    from lockstep.domain.lane_choice import lanes_to_tell
    from lockstep.domain.lane_messages import (
        JoinLane,
        LaneFinished,
        LaneInput,
        LaneRequest,
        LaneTurn,
    )
    from lockstep.domain.messages import (
        ComponentRequest,
        ComponentResult,
        DeploymentRequest,
        DeploymentResult,
        DeploymentView,
        OutcomeRecord,
        PrepareResult,
        StatusChange,
        StepView,
    )
    from lockstep.domain.models import Plan
    from lockstep.domain.retryability import deployment_non_retryable
    from lockstep.domain.status import DeploymentStatus, StepStatus
    from lockstep.domain.temporal_names import (
        DEPLOYMENT_WORKFLOW,
        FINISHED_SIGNAL,
        JOIN_LANE,
        STATUS_QUERY,
        TURN_SIGNAL,
    )
    from workflows.activity_interfaces import DeploymentActivities, RecordActivities

# Workflow modules are imported normally: the sandbox re-imports them with each run, so a
# nondeterministic call in them is refused there rather than silently passed through.
from workflows.governance import GovernanceStage

# Errors that no retry can fix: bad manifests, failed commands, unknown targets.
PERMANENT_ERRORS = deployment_non_retryable()
_RECORD_TIMEOUT = timedelta(seconds=30)
# Patch: an unexpected exception in workflow code ends the deployment `failed` (after putting back
# what changed) instead of failing its workflow task forever.
FAIL_CLEANLY = "fail-cleanly"
# Patches: a commit that never succeeded where promote_from asks ends `denied` after planning; one
# that changes the rules in force is governed even with nothing to deploy.
PROMOTE_FROM = "promote-from"
RULES_CHANGED = "rules-changed"
# Patch: a failure whose compensation found nothing to undo (every rollback changed nothing, none
# failed: refused before its first change, e.g. an unknown host key) ends `failed` with its
# reason instead of `rolled_back`.
NOTHING_TO_UNDO = "nothing-to-undo"
# Patch: a queued deployment re-joins its lane every `lane_check_seconds` (a lane that failed or
# was terminated is replaced by the next join, which knows nothing of what queued before it).
REJOIN_LANE = "rejoin-lane"
# Patch: compensation starts at once; the `rolling_back` status write runs beside it with a bounded
# retry (a store outage must not delay putting targets back).
COMPENSATE_FIRST = "compensate-first"
_T = TypeVar("_T")
_REJOIN_AT_MOST = 3600.0  # seconds between a queued deployment's joins, at most
_BEST_EFFORT = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=10))
# Patch: a deployment whose join was cut short tells both lanes it may have joined (the lane under
# today's id and the one under the id from before unambiguous ids) that it ended.
UNAMBIGUOUS_IDS = "unambiguous-ids"


def _failure_message(err: BaseException) -> str:
    """The innermost cause's message: that is what names the problem."""
    while isinstance(err, ActivityError) and err.cause is not None:
        err = err.cause
    return str(err) or type(err).__name__


async def _to_completion(work: Coroutine[Any, Any, DeploymentResult]) -> DeploymentResult:
    """Run `work` to its end even if the workflow is cancelled meanwhile.

    Compensation and the final record must never be cut short: a cancel request that arrives
    while they run (or again) is absorbed here, and the activities they started keep running.
    """
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                return task.result()


def _under_patch(patched: Callable[[], bool], rule: Callable[[bool], _T]) -> _T:
    """`rule`'s answer with a patch in force, or without it for a run that began before it.

    `patched` (a `workflow.patched` call, which writes a marker) is asked only when the two
    answers differ, exactly where the rule used to ask inline: histories see the same markers.
    """
    new, old = rule(True), rule(False)
    return new if new == old or patched() else old


def _task_error(task: asyncio.Task[ComponentResult]) -> BaseException | None:
    if task.cancelled():
        return asyncio.CancelledError()
    return task.exception()


@workflow.defn(name=DEPLOYMENT_WORKFLOW)
class DeploymentWorkflow(GovernanceStage):
    @workflow.init
    def __init__(self, request: DeploymentRequest) -> None:
        self._request = request
        self._view = DeploymentView(
            id=request.deployment_id,
            application=request.application,
            environment=request.environment,
            commit=request.commit,
            status=DeploymentStatus.QUEUED,
            trigger=request.trigger,
            actor=request.actor,
        )
        self._steps: dict[str, StepView] = {}
        self._promotions: list[str] = []
        self._turn: LaneTurn | None = None
        self._lane: str | None = None  # the id of the lane this deployment joined, once it has
        self._finishing = False  # the outcome is being recorded: an error now is not retried here
        self._init_governance()

    @workflow.signal(name=TURN_SIGNAL)
    def turn(self, turn: LaneTurn) -> None:
        """The lane's answer to a queued deployment: deploy now, or end superseded."""
        self._turn = turn

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> DeploymentView:
        approvals = [entry.to_dict() for entry in self._entries]  # the wire shape: strings only
        return self._view.model_copy(update={"steps": list(self._steps.values()), "approvals": approvals})

    @workflow.run
    async def run(self, request: DeploymentRequest) -> DeploymentResult:
        try:
            return await self._run(request)
        except Exception as err:
            # A bug in workflow code or an input it cannot handle (not an activity's failure,
            # which the stages handle). Left alone, the workflow task would retry forever, the
            # deployment would show its last status and its lane would wait behind it: record
            # `failed` with the cause instead, and tell the lane. Nondeterminism stays a task
            # failure, since it needs the code fixed, and so does a failure while finishing.
            if isinstance(err, workflow.NondeterminismError) or self._finishing:
                raise
            if not workflow.patched(FAIL_CLEANLY):
                raise
            workflow.logger.exception("deployment %s failed in workflow code", request.deployment_id)
            return await _to_completion(self._finish(*final_status.failed_in_workflow_code(err)))

    async def _run(self, request: DeploymentRequest) -> DeploymentResult:
        self._view.created_at = workflow.now().isoformat()
        if request.lane:  # input-driven: deployments that began before lanes joined never get here
            ended = await self._wait_for_turn(request)
            if ended is not None:
                return ended
        self._view.status = DeploymentStatus.PLANNING
        # prepare_deployment records the deployment in the store before it renders anything.
        workflow.upsert_search_attributes([sa.STATUS.value_set(DeploymentStatus.PLANNING.value)])
        try:
            prepared = await workflow.execute_activity_method(
                DeploymentActivities.prepare,
                request,
                start_to_close_timeout=timedelta(seconds=request.timeouts.activity_seconds),
                # prepare heartbeats while it clones and renders: a worker that died mid-prepare
                # is noticed after this, not after the whole start-to-close time.
                heartbeat_timeout=timedelta(seconds=request.timeouts.heartbeat_seconds),
                retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=PERMANENT_ERRORS),
            )
        except (ActivityError, asyncio.CancelledError) as err:
            return await self._stopped(err, "before any change")
        self._view.plan = prepared.plan
        self._view.commit = prepared.commit.sha
        self._promotions = prepared.promotions
        if prepared.denied is not None and workflow.patched(PROMOTE_FROM):
            # promote_from not met (or the rules in force unreadable): before policy, before any change
            return await _to_completion(self._finish(*final_status.denied(prepared.denied)))
        # A commit that changes the environment's rules (promote_from, approvals) passes the rules
        # in force even when it deploys nothing: else it would become the live revision, and its
        # rules the ones in force, without anyone approving it.
        governed = not prepared.plan.is_empty or (prepared.rules_changed and workflow.patched(RULES_CHANGED))
        if governed and workflow.patched("governance"):
            try:
                stopped = await self._govern(prepared)
            except (ActivityError, ApplicationError, asyncio.CancelledError) as err:  # nothing changed yet
                return await self._stopped(err, f"while {self._view.status.value}")
            if stopped is not None:
                return await _to_completion(self._finish(*stopped))
        return await self._deploy(prepared)

    async def _stopped(self, err: BaseException, when: str) -> DeploymentResult:
        """End before any change: cancelled `when` ("while queued"), or failed with the error."""
        cancelled = is_cancelled_exception(err) or isinstance(err, asyncio.CancelledError)
        failure = _failure_message(err)
        ending = final_status.stopped_before_changes(cancelled=cancelled, when=when, failure=failure)
        return await _to_completion(self._finish(*ending))

    async def _wait_for_turn(self, request: DeploymentRequest) -> DeploymentResult | None:
        """Join the environment's lane and wait until it says go; a result if this deployment
        ends while queued (superseded by a newer commit, or cancelled)."""
        workflow.set_current_details("queued, joining its lane")
        join = JoinLane(
            lane=LaneInput(
                application=request.application,
                environment=request.environment,
                repository=request.repository,
                timeouts=request.timeouts,
                check_seconds=request.timeouts.lane_check_seconds,
            ),
            request=LaneRequest(
                deployment_id=request.deployment_id,
                commit=request.commit,
                trigger=request.trigger,
                actor=request.actor,
                actor_source=request.actor_source,
            ),
        )
        try:
            await self._join(join)
            if workflow.patched(REJOIN_LANE):
                # Joining again is harmless (the lane ignores a deployment it knows) and finds a
                # lane that replaced the one this deployment joined. First after three lane
                # checks, then twice as long each time up to an hour: a month in the queue costs
                # a few thousand events whatever the check interval (Temporal's limit: 51,200).
                every = 3 * request.timeouts.lane_check_seconds
                while self._turn is None:
                    try:
                        await workflow.wait_condition(
                            lambda: self._turn is not None, timeout=timedelta(seconds=every)
                        )
                    except TimeoutError:
                        every = min(2 * every, _REJOIN_AT_MOST)
                        await self._rejoin(join)
            await workflow.wait_condition(lambda: self._turn is not None)
        except (ActivityError, ApplicationError, asyncio.CancelledError) as err:  # nothing changed yet
            if not (isinstance(err, asyncio.CancelledError) or is_cancelled_exception(err)):
                raise  # a join that can never succeed (it retries until then): fail-cleanly says so
            return await self._stopped(err, "while queued")
        assert self._turn is not None
        workflow.set_current_details("")
        if self._turn.superseded_by is not None:
            return await _to_completion(self._finish(*final_status.superseded(self._turn.superseded_by)))
        return None

    async def _rejoin(self, join: JoinLane) -> None:
        """Join again; a join that fails is tried at the next tick, never ends the deployment."""
        try:
            await self._join(join)
        except (ActivityError, ApplicationError) as err:  # a local activity's failure is either
            if is_cancelled_exception(err):
                raise
            workflow.logger.warning("could not join the lane again: %s", _failure_message(err))

    async def _join(self, join: JoinLane) -> None:
        """Join (or join again) the environment's lane; remember which lane that is."""
        # Local: joining is two short writes, and a burst of pushes joins at once; a separate
        # activity task would cost each queued deployment another workflow task.
        joined = await workflow.execute_local_activity(
            JOIN_LANE,
            join,
            start_to_close_timeout=_RECORD_TIMEOUT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
        # The lane's id, or None in histories from before unambiguous ids: those joined the
        # lane under the older id. No result type: a recorded None must decode as None.
        legacy = legacy_lane_id(self._request.application, self._request.environment)
        self._lane = joined if isinstance(joined, str) else legacy
        workflow.set_current_details(f"queued in {self._lane}")

    async def _deploy(self, prepared: PrepareResult) -> DeploymentResult:
        plan = prepared.plan
        if plan.is_empty:
            return await _to_completion(self._finish(*final_status.succeeded()))
        for component in plan.components:
            self._steps[component.name] = StepView(
                component=component.name, action="deploy", status=StepStatus.PENDING
            )
        started_waves: list[list[str]] = []
        try:
            await self._set_status(DeploymentStatus.DEPLOYING)
            if self._rejection is not None:  # rejected while the status was being recorded
                return await _to_completion(self._finish(*self._rejected()))
            # A task of its own, so a rejection while deploying can cancel the changes alone
            # (GovernanceStage._apply); cancelling the workflow cancels it through the await.
            self._changes = asyncio.create_task(self._run_waves(plan, started_waves))
            await self._changes
        except (Exception, asyncio.CancelledError) as err:  # never GeneratorExit: eviction
            cancelled = is_cancelled_exception(err) or isinstance(err, asyncio.CancelledError)
            internal = not cancelled and not isinstance(err, ActivityError | ApplicationError)
            # A bug in the waves' own code, after changes began: put back what changed rather
            # than leave the task retrying with the environment half-deployed.
            if internal and (
                isinstance(err, workflow.NondeterminismError) or not workflow.patched(FAIL_CLEANLY)
            ):
                raise
            reason = final_status.compensation_reason(
                cancelled=cancelled,
                rejection=self._rejection,
                failed_steps=[
                    (s.component, str(s.error)) for s in self._steps.values() if s.status == StepStatus.FAILED
                ],
                failure=_failure_message(err),
                internal=final_status.internal_error(err) if internal else None,
            )
            return await _to_completion(self._compensate(plan, started_waves, reason, cancelled=cancelled))
        hashes = {c.name: c.content_hash for c in plan.components}
        return await _to_completion(self._finish(*final_status.succeeded(), deployed_hashes=hashes))

    async def _run_waves(self, plan: Plan, started_waves: list[list[str]]) -> None:
        for wave in plan.waves:
            # Recorded before the activities start: each one writes what was live ahead of
            # any change, so compensation has a way back even for a half-done component.
            started_waves.append(wave)
            failures = await self._run_wave(plan, wave)
            if failures:
                raise failures[0]

    async def _run_wave(self, plan: Plan, wave: list[str]) -> list[BaseException]:
        """Deploy a wave's components in parallel; return their failures.

        On cancellation the components still running are cancelled and awaited before the error
        propagates, so compensation never races an activity that is still changing a target.
        """
        tasks = [asyncio.create_task(self._deploy_component(plan, name)) for name in wave]
        try:
            await workflow.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await workflow.wait(tasks)
            raise
        return [e for e in (_task_error(t) for t in tasks) if e is not None]

    async def _deploy_component(self, plan: Plan, name: str) -> ComponentResult:
        step = self._steps[name]
        step.status = StepStatus.RUNNING
        step.started_at = workflow.now().isoformat()
        try:
            result = await workflow.execute_activity_method(
                DeploymentActivities.deploy_component,
                self._component_request(plan, name),
                start_to_close_timeout=timedelta(seconds=self._request.timeouts.activity_seconds),
                heartbeat_timeout=timedelta(seconds=self._request.timeouts.heartbeat_seconds),
                retry_policy=RetryPolicy(maximum_attempts=3, non_retryable_error_types=PERMANENT_ERRORS),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except (Exception, asyncio.CancelledError) as err:  # never GeneratorExit: eviction
            step.status = StepStatus.FAILED
            step.error = "cancelled" if is_cancelled_exception(err) else _failure_message(err)
            step.finished_at = workflow.now().isoformat()
            raise
        step.status = StepStatus.SUCCEEDED
        step.finished_at = workflow.now().isoformat()
        return result

    async def _compensate(
        self, plan: Plan, started_waves: list[list[str]], reason: str, *, cancelled: bool
    ) -> DeploymentResult:
        status_written: asyncio.Task[None] | None = None
        if workflow.patched(COMPENSATE_FIRST):
            status_written = asyncio.create_task(
                self._set_status(DeploymentStatus.ROLLING_BACK, reason, best_effort=True)
            )
        else:
            await self._set_status(DeploymentStatus.ROLLING_BACK, reason)
        failures: list[tuple[str, str]] = []
        undone = False
        for wave in reversed(started_waves):
            results = await asyncio.gather(
                *(self._rollback_component(plan, name) for name in wave), return_exceptions=True
            )
            for name, result in zip(wave, results, strict=True):
                if isinstance(result, BaseException):
                    failures.append((name, _failure_message(result)))
                else:
                    undone = undone or result.changed
        if status_written is not None:
            await status_written  # best effort: it never raises; the outcome record follows
        # The detail now names the hosts each component could not put back. Unguarded: it changes
        # what the outcome records, not the commands (deployment-refused-rollback-failed replays).
        rejected = self._rejection is not None
        ending = _under_patch(  # a deployment that began before the patch ends as it always did
            lambda: workflow.patched(NOTHING_TO_UNDO),
            lambda new: final_status.after_compensation(
                reason, failures, cancelled=cancelled, rejected=rejected, undone=undone, nothing_to_undo=new
            ),
        )
        return await self._finish(*ending)

    async def _rollback_component(self, plan: Plan, name: str) -> ComponentResult:
        step = self._steps[name]
        try:
            result = await workflow.execute_activity_method(
                DeploymentActivities.rollback_component,
                self._component_request(plan, name),
                start_to_close_timeout=timedelta(seconds=self._request.timeouts.activity_seconds),
                heartbeat_timeout=timedelta(seconds=self._request.timeouts.heartbeat_seconds),
                retry_policy=RetryPolicy(maximum_attempts=5, non_retryable_error_types=PERMANENT_ERRORS),
            )
        except (Exception, asyncio.CancelledError):  # never GeneratorExit: eviction
            step.status = StepStatus.ROLLBACK_FAILED
            raise
        if result.changed:
            step.status = StepStatus.ROLLED_BACK
        return result

    def _component_request(self, plan: Plan, name: str) -> ComponentRequest:
        r = self._request
        return ComponentRequest(
            deployment_id=r.deployment_id,
            application=r.application,
            environment=r.environment,
            repository=r.repository,
            commit=self._view.commit,
            component=name,
            content_hash=plan.component(name).content_hash,
            timeouts=r.timeouts,
        )

    async def _set_status(
        self, status: DeploymentStatus, error: str | None = None, *, best_effort: bool = False
    ) -> None:
        self._view.status = status
        self._view.error = error
        self._view.updated_at = workflow.now().isoformat()
        workflow.upsert_search_attributes([sa.STATUS.value_set(status.value)])
        change = StatusChange(
            deployment_id=self._request.deployment_id,
            status=status,
            error=error,
            approvals_required=self._view.approvals_required or None,
        )
        try:
            await workflow.execute_local_activity_method(
                RecordActivities.record_status,
                change,
                start_to_close_timeout=_RECORD_TIMEOUT,
                retry_policy=_BEST_EFFORT if best_effort else None,  # None: the default policy
            )
        except (ActivityError, ApplicationError) as err:  # the outcome record says the rest
            if not best_effort:
                raise
            workflow.logger.warning("could not record %s: %s", status.value, _failure_message(err))

    async def _finish(
        self, status: DeploymentStatus, error: str | None, deployed_hashes: dict[str, str] | None = None
    ) -> DeploymentResult:
        r = self._request
        self._finishing = True
        self._view.status = status
        self._view.error = error
        self._view.finished_at = self._view.updated_at = workflow.now().isoformat()
        workflow.upsert_search_attributes([sa.STATUS.value_set(status.value)])
        await workflow.execute_local_activity_method(
            RecordActivities.record_outcome,
            OutcomeRecord(
                deployment_id=r.deployment_id,
                application=r.application,
                environment=r.environment,
                commit=self._view.commit,
                repository=r.repository,
                trigger=r.trigger,
                actor=r.actor,
                status=status,
                error=error,
                deployed_hashes=deployed_hashes or {},
                approvals_required=self._view.approvals_required or None,
            ),
            start_to_close_timeout=_RECORD_TIMEOUT,
        )
        promotions = final_status.promotions_after(status, self._promotions)
        if r.lane and status != DeploymentStatus.SUPERSEDED:  # the lane itself superseded it
            await self._leave_lane(
                LaneFinished(
                    deployment_id=r.deployment_id,
                    status=status,
                    commit=self._view.commit,
                    promotions=promotions,
                )
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return DeploymentResult(
            deployment_id=r.deployment_id,
            status=status,
            error=error,
            commit=self._view.commit,
            promotions=promotions,
        )

    async def _leave_lane(self, outcome: LaneFinished) -> None:
        """Tell the lane this deployment ended, after its outcome is recorded: the next may go."""
        r = self._request
        lanes = _under_patch(
            lambda: workflow.patched(UNAMBIGUOUS_IDS),
            lambda new: lanes_to_tell(self._lane, r.application, r.environment, both=new),
        )
        for lane in lanes:
            try:
                await workflow.get_external_workflow_handle(lane).signal(FINISHED_SIGNAL, outcome)
            except asyncio.CancelledError:
                raise
            except Exception:  # no lane to tell (terminated, or never joined): a successor checks on its own
                workflow.logger.warning("could not tell %s that %s ended", lane, outcome.deployment_id)
