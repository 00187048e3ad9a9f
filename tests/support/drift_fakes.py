"""A stand-in for the drift comparison (`lockstep.drift.sweep`), for the sweep's tests: it counts
the comparisons running at once, reports progress, and fails or finds drift where told.

Each call waits (bounded) until `peak_target` comparisons run together, so a test learns the
concurrency the workflow allows from counts, never from timings.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.worker import Worker

from activities.drift import DriftActivities
from activities.threads import ActivityThreads
from lockstep.drift.sweep import LiveMoved
from lockstep.store.engine import Store
from workflows.drift import DriftSweep


class FakeDrift(BaseModel):
    """Shaped as `lockstep.domain.drift.EnvironmentDrift` is, as far as the sweep reads it."""

    state: str
    reason: str | None = None
    items: list[str] = []
    pending: list[str] = []


@dataclass
class FakeComparison:
    environments: list[tuple[str, str, str]]
    peak_target: int = 1
    drifted: dict[str, int] = field(default_factory=dict)  # environment -> items found
    failing: set[str] = field(default_factory=set)  # environments whose comparison always raises
    flaky: set[str] = field(default_factory=set)  # environments whose first comparison raises
    # Called while an environment is compared (a deployment that ends meanwhile, say).
    during: dict[str, Callable[[], None]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    peak: int = 0
    _running: int = 0
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def list_environments(self) -> list[tuple[str, str, str]]:
        return list(self.environments)

    def sweep_one(
        self,
        *,
        application: str,
        environment: str,
        repository: str,
        now: datetime,
        progress: Callable[[str], None],
        since: datetime | None = None,
        still: Callable[[], str | None] | None = None,
    ) -> FakeDrift:
        with self._lock:
            self.calls.append(environment)
            attempt = self.calls.count(environment)
            self._running += 1
            self.peak = max(self.peak, self._running)
            self._lock.notify_all()
            self._lock.wait_for(lambda: self._running >= self.peak_target, timeout=3)
        try:
            progress(f"read {environment} of {application} from {repository}")
            if environment in self.failing or (environment in self.flaky and attempt == 1):
                raise RuntimeError(f"cannot read the targets of {environment}")
            found = self.drifted.get(environment, 0)
            if environment in self.during:
                self.during[environment]()
            moved = still() if still is not None else None
            if moved is not None:  # as the real comparison: nothing is recorded
                raise LiveMoved(moved)
            return FakeDrift(
                state="drifted" if found else "in_sync", items=[f"item {i}" for i in range(found)]
            )
        finally:
            with self._lock:
                self._running -= 1

    def activities(self, store: Store, threads: ActivityThreads) -> DriftActivities:
        return DriftActivities(
            store=store, sweep_one=self.sweep_one, list_environments=self.list_environments, threads=threads
        )


@contextlib.asynccontextmanager
async def sweep_worker(
    client: Client, task_queue: str, store: Store, comparison: FakeComparison
) -> AsyncIterator[None]:
    """A worker running DriftSweep on `comparison` (the real worker wires `lockstep.drift`)."""
    threads = ActivityThreads(activities=16, local_activities=4)
    drift = comparison.activities(store, threads)
    try:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[DriftSweep],
            activities=[drift.list_environments, drift.sweep_environment],
        ):
            yield
    finally:
        threads.shutdown()
