"""The delivery journal kept in the system of record: steps and write-ahead prior releases.

Implements `lockstep.delivery.journal.DeliveryJournal` for one (deployment, component). Every
write is keyed, so a retried activity adds nothing twice. Command output is stored with the
secrets the worker knows masked: a deploy command that prints its environment leaves `***`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlmodel import Session

from lockstep.domain.journal import PriorRelease, StepUpdate
from lockstep.domain.masking import Masker
from lockstep.domain.status import StepStatus
from lockstep.store.engine import Store
from lockstep.store.steps import prior_releases, record_prior_release, record_step, steps_for


class StoreJournal:
    def __init__(self, store: Store, *, deployment_id: str, component: str, masker: Masker) -> None:
        self._store = store
        self._masker = masker
        self._deployment_id = deployment_id
        self._component = component

    def begin_host(self, *, host: str, live: Mapping[str, str | None]) -> dict[str, str | None]:
        with self._store.session() as session:
            stored = {
                dest: record_prior_release(
                    session=session,
                    deployment_id=self._deployment_id,
                    component=self._component,
                    host=host,
                    dest=dest,
                    previous_release=previous,
                )
                for dest, previous in live.items()
            }
            self._write(session, host, "deploy", StepStatus.RUNNING, None)
        return stored

    def priors(self) -> list[PriorRelease]:
        with self._store.session() as session:
            rows = prior_releases(
                session=session, deployment_id=self._deployment_id, component=self._component
            )
            return [PriorRelease(host=r.host, dest=r.dest, previous=r.previous_release) for r in rows]

    def steps(self, *, host: str, updates: Sequence[StepUpdate]) -> None:
        with self._store.session() as session:
            for action, status, output in updates:
                self._write(session, host, action, status, output)

    def _write(
        self, session: Session, host: str, action: str, status: StepStatus, output: str | None
    ) -> None:
        # record_step stamps started_at (RUNNING) and finished_at (final statuses) itself.
        record_step(
            session=session,
            deployment_id=self._deployment_id,
            component=self._component,
            host=host,
            action=action,
            status=status.value,
            output=self._masker.mask(output),
        )

    def step_status(self, *, host: str, action: str) -> StepStatus | None:
        with self._store.session() as session:
            for row in steps_for(session=session, deployment_id=self._deployment_id):
                if row.component == self._component and row.host == host and row.action == action:
                    return StepStatus(row.status)
        return None
