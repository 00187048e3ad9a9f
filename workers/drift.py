"""Wiring the drift comparison (`lockstep.drift.sweep`) into the sweep's activities.

`activities.drift.DriftActivities` receives the comparison as two functions; this binds the real
ones to the worker's adapters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from activities.drift import DriftActivities, SweepOne
from activities.threads import ActivityThreads
from lockstep.delivery.deliverer import Deliverers
from lockstep.delivery.rendering import CommitRenderer
from lockstep.drift.sweep import environments_to_sweep, sweep_environment
from lockstep.policy.engine import PolicyEngine
from lockstep.settings import Settings
from lockstep.store.engine import Store


def drift_activities(
    settings: Settings,
    store: Store,
    renderer: CommitRenderer,
    deliverers: Deliverers,
    policy: PolicyEngine,
    threads: ActivityThreads,
) -> DriftActivities:
    """The sweep's activities on the real comparison."""
    del settings  # the comparison reads nothing of it yet; kept so the wiring need not change
    sweep_one: SweepOne = functools.partial(
        sweep_environment, store=store, renderer=renderer, deliverers=deliverers, policy=policy
    )
    list_environments: Callable[[], list[tuple[str, str, str]]] = functools.partial(
        environments_to_sweep, store
    )
    return DriftActivities(
        store=store, sweep_one=sweep_one, list_environments=list_environments, threads=threads
    )
