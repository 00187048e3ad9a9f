"""Wiring the drift comparison (`lockstep.drift.sweep`) into the sweep's activities.

`activities.drift.DriftActivities` receives the comparison as two functions; this binds the real
ones to the worker's adapters. `lockstep.drift.sweep` is imported here, when the worker is built,
so a build without it raises ImportError and `workers.main` runs without the sweep.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

from activities.drift import DriftActivities, SweepOne
from activities.threads import ActivityThreads
from lockstep.delivery.deliverer import Deliverers
from lockstep.delivery.rendering import CommitRenderer
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
    """The sweep's activities on the real comparison; ImportError when it is not installed."""
    del settings  # the comparison reads nothing of it yet; kept so the wiring need not change
    sweep = importlib.import_module("lockstep.drift.sweep")
    sweep_one: SweepOne = functools.partial(
        sweep.sweep_environment, store=store, renderer=renderer, deliverers=deliverers, policy=policy
    )
    list_environments: Callable[[], list[tuple[str, str, str]]] = functools.partial(
        sweep.environments_to_sweep, store
    )
    return DriftActivities(
        store=store, sweep_one=sweep_one, list_environments=list_environments, threads=threads
    )
