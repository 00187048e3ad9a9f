"""Sweeping environments deployed by the real workflow (real Temporal, Git and local target)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.drift import EnvironmentDrift
from lockstep.domain.sweep_messages import SweepResult
from lockstep.drift.parts import sweep_parts
from lockstep.drift.sweep import environments_to_sweep, sweep_environment
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.drift_sweep import start_sweep
from lockstep.policy.engine import PolicyEngine
from lockstep.settings import Settings
from lockstep.store.engine import Store

Sweep = Callable[..., EnvironmentDrift]


def remediate_in(settings: Settings, environments: list[str]) -> Path:
    """Let the policy bundle's drift rule remediate `environments`; the bundle's folder."""
    bundle = Path(settings.policy.path)
    data = json.loads((bundle / "data.json").read_text())
    data["lockstep"]["config"]["drift"]["remediate_environments"] = environments
    (bundle / "data.json").write_text(json.dumps(data))
    return bundle


async def remediate(settings: Settings, environments: list[str]) -> None:
    """`remediate_in`, then wait until the worker's engine sees it (it looks once a second)."""
    remediate_in(settings, environments)
    await asyncio.sleep(1.2)


async def sweep_now(env: WorkflowEnvironment, settings: Settings) -> SweepResult:
    """The DriftSweep workflow, started now on the worker, to its result."""
    handle = await start_sweep(env.client, settings)
    result: SweepResult = await handle.result()
    return result


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
