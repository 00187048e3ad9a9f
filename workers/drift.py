"""Wiring the drift comparison (`lockstep.drift.sweep`) into the sweep's activities.

`activities.drift.DriftActivities` receives the comparison as two functions; this binds the real
ones to the worker's adapters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from temporalio.client import Client

from activities.drift import DriftActivities, EnvironmentOutcome, SweepOne
from activities.threads import ActivityThreads
from lockstep.delivery.deliverer import Deliverers
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.drift import EnvironmentDrift
from lockstep.drift.sweep import environments_to_sweep, sweep_environment
from lockstep.orchestration.remediations import record_remediation, remediation_due, start_remediation
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

    async def remediate(outcome: EnvironmentOutcome) -> str | None:
        if not isinstance(outcome, EnvironmentDrift):
            return None
        order = await threads.run(remediation_due, store, outcome)
        if order is None:
            return None
        deployment_id = await start_remediation(client, settings, store, order)
        await threads.run(record_remediation, store, order, deployment_id)
        return deployment_id

    return DriftActivities(
        store=store,
        sweep_one=sweep_one,
        list_environments=list_environments,
        threads=threads,
        remediate=remediate,
    )
