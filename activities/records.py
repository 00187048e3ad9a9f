"""Short writes to the system of record, run as local activities next to the workflow.

Each write is idempotent (keyed by deployment id), so a replayed or retried local activity
changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import activity

from activities.audit import audit
from activities.threads import ActivityThreads
from lockstep.domain.audit import AuditKind
from lockstep.domain.lane_messages import LaneRecord, LaneRecords
from lockstep.domain.messages import OutcomeRecord, StatusChange
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import RECORD_LANE, RECORD_OUTCOME, RECORD_STATUS
from lockstep.store.deployments import set_deployment_status, upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.revisions import record_revisions


class RecordActivities:
    def __init__(self, *, store: Store, threads: ActivityThreads) -> None:
        self._store = store
        self._threads = threads

    @activity.defn(name=RECORD_STATUS)
    async def record_status(self, change: StatusChange) -> None:
        def write() -> None:
            with self._store.session() as session:
                set_deployment_status(
                    session=session,
                    deployment_id=change.deployment_id,
                    status=change.status.value,
                    error=change.error,
                    approvals_required=change.approvals_required,
                )

        await self._threads.run(write)

    @activity.defn(name=RECORD_OUTCOME)
    async def record_outcome(self, outcome: OutcomeRecord) -> None:
        info = activity.info()

        def write() -> None:
            with self._store.session() as session:
                if outcome.status == DeploymentStatus.SUCCEEDED and outcome.deployed_hashes:
                    record_revisions(
                        session=session,
                        application=outcome.application,
                        environment=outcome.environment,
                        deployment_id=outcome.deployment_id,
                        commit=outcome.commit,
                        hashes=outcome.deployed_hashes,
                    )
                # Upsert, not update: a deployment that failed before prepare could record it
                # still gets its row.
                upsert_deployment(
                    session=session,
                    id=outcome.deployment_id,
                    application=outcome.application,
                    environment=outcome.environment,
                    commit=outcome.commit,
                    repository=outcome.repository,
                    trigger=outcome.trigger,
                    actor=outcome.actor,
                    status=outcome.status.value,
                    error=outcome.error,
                    approvals_required=outcome.approvals_required,
                )
            audit(
                self._store,
                key=f"{info.workflow_id}/{info.workflow_run_id}/finished",
                kind=AuditKind.FINISHED,
                deployment_id=outcome.deployment_id,
                application=outcome.application,
                environment=outcome.environment,
                detail={
                    "status": outcome.status.value,
                    "error": outcome.error or "",
                    "commit": outcome.commit,
                },
            )

        await self._threads.run(write)

    @activity.defn(name=RECORD_LANE)
    async def record_lane(self, batch: LaneRecords) -> None:
        """Deployments the lane queued, superseded or saw fail: rows before (or without) a run."""
        await self._threads.run(write_lane_records, self._store, batch.records)


def write_lane_records(store: Store, records: Sequence[LaneRecord]) -> None:
    """Upsert one deployment row per record, in order (idempotent: keyed by deployment id)."""
    with store.session() as session:
        for record in records:
            upsert_deployment(
                session=session,
                id=record.request.deployment_id,
                application=record.application,
                environment=record.environment,
                commit=record.request.commit,
                repository=record.repository,
                trigger=record.request.trigger,
                actor=record.request.actor,
                status=record.status.value,
                error=record.reason,
            )
