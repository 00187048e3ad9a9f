"""Wiring the drift comparison (`lockstep.drift.sweep`) into the sweep's activities.

`activities.drift.DriftActivities` receives the comparison as two functions; this binds the real
ones to the worker's adapters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

from temporalio.client import Client

from activities.drift import DriftActivities, EnvironmentOutcome, SweepOne
from activities.threads import ActivityThreads
from lockstep.delivery.deliverer import Deliverers
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.drift import EnvironmentDrift
from lockstep.domain.sweep_messages import SweepTarget
from lockstep.drift.sweep import environments_to_sweep, sweep_environment
from lockstep.orchestration.remediations import (
    adopt_remediation,
    record_remediation,
    remediation_due,
    start_remediation,
)
from lockstep.policy.engine import PolicyEngine
from lockstep.settings import Settings
from lockstep.store.engine import Store


def drift_activities(
    client: Client,
    settings: Settings,
    store: Store,
    renderer: CommitRenderer,
    deliverers: Deliverers,
    policy: PolicyEngine,
    threads: ActivityThreads,
) -> DriftActivities:
    """The sweep's activities on the real comparison, starting remediations on `client`."""
    sweep_one: SweepOne = functools.partial(
        sweep_environment, store=store, renderer=renderer, deliverers=deliverers, policy=policy
    )
    list_environments: Callable[[], list[tuple[str, str, str]]] = functools.partial(
        environments_to_sweep, store
    )
    return DriftActivities(
        store=store,
        sweep_one=sweep_one,
        list_environments=list_environments,
        threads=threads,
        remediate=Remediations(client, settings, store, threads),
    )


class Remediations:
    """`activities.drift.Remediate` on `lockstep.orchestration.remediations`."""

    def __init__(self, client: Client, settings: Settings, store: Store, threads: ActivityThreads) -> None:
        self._client, self._settings, self._store, self._threads = client, settings, store, threads

    async def start(self, outcome: EnvironmentOutcome) -> str | None:
        if not isinstance(outcome, EnvironmentDrift):
            return None
        order = await self._threads.run(remediation_due, self._store, outcome, datetime.now(UTC))
        if order is None:
            return None
        deployment_id = await start_remediation(self._client, self._settings, self._store, order)
        await self._threads.run(record_remediation, self._store, order, deployment_id)
        return deployment_id

    async def adopt(self, target: SweepTarget, deployment_id: str) -> str | None:
        return await self._threads.run(
            adopt_remediation, self._store, target.application, target.environment, deployment_id
        )
