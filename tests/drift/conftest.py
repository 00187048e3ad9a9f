"""Sweeping environments deployed by the real workflow (real Temporal, Git and local target)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from lockstep.domain.drift import EnvironmentDrift
from lockstep.drift.parts import sweep_parts
from lockstep.drift.sweep import environments_to_sweep, sweep_environment
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.policy.engine import PolicyEngine
from lockstep.settings import Settings
from lockstep.store.engine import Store

Sweep = Callable[..., EnvironmentDrift]


@pytest.fixture
def sweep(settings: Settings, store: Store, git: GitMirrors) -> Sweep:
    """Sweep shop/staging as the schedule would, now (each call strictly after the last);
    `since`: as a sweep that began then (the targets may be read as they were since)."""
    parts = sweep_parts(settings, store, git)
    clock = [datetime.now(UTC)]

    def run(*, policy: PolicyEngine | None = None, since: datetime | None = None) -> EnvironmentDrift:
        [(application, environment, repository)] = environments_to_sweep(store)
        clock[0] = max(datetime.now(UTC), clock[0] + timedelta(microseconds=1))
        return sweep_environment(
            store=store,
            renderer=parts.renderer,
            deliverers=parts.deliverers,
            policy=policy or parts.policy,
            application=application,
            environment=environment,
            repository=repository,
            now=clock[0],
            since=since,
        )

    return run
