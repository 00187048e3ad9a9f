"""Activities of the environment lane: joining it, checking on a deployment, promoting."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.audit import audit
from activities.errors import to_application_error
from activities.records import write_lane_records
from activities.threads import ActivityThreads
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.audit import AuditKind
from lockstep.domain.errors import LockstepError
from lockstep.domain.lane_messages import (
    Enqueued,
    JoinLane,
    LaneInput,
    LaneRecord,
    LaneRecords,
    LaneRequest,
    NewestCommit,
    Promotion,
)
from lockstep.domain.messages import DeploymentRequest
from lockstep.domain.status import FINAL_STATUSES, DeploymentStatus
from lockstep.domain.temporal_names import (
    ACTIVE_DEPLOYMENT,
    CLOSED_STATUS,
    JOIN_LANE,
    PICK_NEWEST,
    PROMOTE,
    REQUEUE,
)
from lockstep.orchestration.deployments import ended_outcome, timeouts_from
from lockstep.orchestration.lane_recovery import Unfinished, running_turn
from lockstep.orchestration.lanes import enqueue_deployment, join_lane, start_queued
from lockstep.settings import Settings
from lockstep.store.deployments import get_deployment, set_deployment_status, unfinished_deployments
from lockstep.store.engine import Store

PROMOTION_ATTEMPTS = 10  # the lane's retry policy for `promote` (workflows/lane.py)


class LaneActivities:
    def __init__(
        self,
        *,
        client: Client,
        settings: Settings,
        store: Store,
        renderer: CommitRenderer,
        threads: ActivityThreads,
    ) -> None:
        self._client = client
        self._threads = threads
        self._settings = settings
        self._store = store
        self._renderer = renderer

    @activity.defn(name=JOIN_LANE)
    async def join_lane(self, join: JoinLane) -> str:
        """Record the deployment as queued, then tell its lane (starting the lane if need be);
        the id of the lane it joined, which its `finished` signal goes to. Both are idempotent:
        a retry writes the same row and the lane ignores a repeat."""
        lane = join.lane
        queued = LaneRecord(
            application=lane.application,
            environment=lane.environment,
            repository=lane.repository,
            request=join.request,
            status=DeploymentStatus.QUEUED,
        )
        await self._threads.run(write_lane_records, self._store, [queued])
        return await join_lane(client=self._client, settings=self._settings, join=join)

    @activity.defn(name=CLOSED_STATUS)
    async def closed_status(self, deployment_id: str) -> DeploymentStatus | None:
        """None while the deployment's workflow runs; else its final status per the store.

        One that ended without recording an outcome (terminated or timed out in Temporal) is
        recorded now, with the reason, so the store and the API say what the lane says.
        """
        return await self._settle_if_closed(deployment_id)

    async def _settle_if_closed(self, deployment_id: str) -> DeploymentStatus | None:
        closed: WorkflowExecutionStatus | None = None
        try:
            description = await self._client.get_workflow_handle(deployment_id).describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        else:
            if description.status == WorkflowExecutionStatus.RUNNING:
                return None
            closed = description.status
        status, reason = ended_outcome(closed)
        info = activity.info()

        def settle() -> DeploymentStatus:
            with self._store.session() as session:
                record = get_deployment(session=session, deployment_id=deployment_id)
                if record is None or DeploymentStatus(record.status) in FINAL_STATUSES:
                    return DeploymentStatus(record.status) if record is not None else status
                set_deployment_status(
                    session=session, deployment_id=deployment_id, status=status.value, error=reason
                )
                application, environment = record.application, record.environment
            audit(
                self._store,
                key=f"{info.workflow_id}/closed/{deployment_id}",
                kind=AuditKind.FINISHED,
                deployment_id=deployment_id,
                application=application,
                environment=environment,
                detail={"status": status.value, "error": reason, "noticed_by": info.workflow_id},
            )
            return status

        return await self._threads.run(settle)

    @activity.defn(name=ACTIVE_DEPLOYMENT)
    async def active_deployment(self, lane: LaneInput) -> LaneRequest | None:
        """A deployment of the lane's environment that got its turn from a lane that is gone
        (failed or terminated) and still runs: the new lane follows it before granting a turn,
        so two deployments of one environment never run at once."""

        def candidates() -> list[Unfinished]:
            with self._store.session() as session:
                rows = unfinished_deployments(
                    session=session, application=lane.application, environment=lane.environment
                )
                return [
                    Unfinished(
                        request=LaneRequest(
                            deployment_id=r.id, commit=r.commit, trigger=r.trigger, actor=r.actor
                        ),
                        status=r.status,
                    )
                    for r in rows
                ]

        unfinished = await self._threads.run(candidates)
        found = await running_turn(
            self._client, lane_workflow_id=activity.info().workflow_id or "", unfinished=unfinished
        )
        for candidate in unfinished:  # the others: any that closed without a word is recorded now
            if found is None or candidate.request.deployment_id != found.deployment_id:
                await self._settle_if_closed(candidate.request.deployment_id)
        return found

    @activity.defn(name=REQUEUE)
    async def requeue(self, queued: LaneRecords) -> None:
        """Start, as deployments that join the lane, what an update-driven lane run had queued
        but not yet started (its deployments existed only in the lane's state)."""
        for record in queued.records:
            await start_queued(
                self._client,
                self._settings,
                DeploymentRequest(
                    deployment_id=record.request.deployment_id,
                    application=record.application,
                    environment=record.environment,
                    repository=record.repository,
                    commit=record.request.commit,
                    trigger=record.request.trigger,
                    actor=record.request.actor,
                    actor_source=record.request.actor_source,
                    timeouts=timeouts_from(self._settings),
                    lane=True,
                ),
            )

    @activity.defn(name=PROMOTE)
    async def promote(self, promotion: Promotion) -> Enqueued:
        """Enqueue the commit into the promoted environment's lane (idempotent: same id)."""
        try:
            return await enqueue_deployment(
                client=self._client,
                settings=self._settings,
                store=self._store,
                application=promotion.application,
                environment=promotion.environment,
                repository=promotion.repository,
                commit=promotion.commit,
                trigger="promotion",
                actor=promotion.actor or f"promotion from {promotion.source_environment}",
            )
        except Exception as err:
            permanent = isinstance(err, LockstepError) and not err.retryable
            if permanent or activity.info().attempt >= PROMOTION_ATTEMPTS:  # the last word
                try:
                    await self._threads.run(self._audit_promotion_failed, promotion, err)
                except Exception:  # the trail is down too: the failure itself still counts
                    activity.logger.exception("could not audit the failed promotion")
            if isinstance(err, LockstepError):
                raise to_application_error(err) from err
            raise

    def _audit_promotion_failed(self, promotion: Promotion, err: Exception) -> None:
        """The lane carries on after a promotion that cannot be made: the trail says why."""
        info = activity.info()
        audit(
            self._store,
            key=f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}/promotion-failed",
            kind=AuditKind.PROMOTION_FAILED,
            deployment_id=promotion.source_deployment,
            application=promotion.application,
            environment=promotion.source_environment,
            detail={"to": promotion.environment, "commit": promotion.commit, "error": str(err)[:2000]},
        )

    @activity.defn(name=PICK_NEWEST)
    async def pick_newest(self, choice: NewestCommit) -> str:
        """Which queued commit deploys: the one the others are ancestors of (push order can be
        lost to retries on the way in)."""
        try:
            return await self._threads.run(self._renderer.newest, choice.repository, choice.commits)
        except LockstepError as err:
            raise to_application_error(err) from err
