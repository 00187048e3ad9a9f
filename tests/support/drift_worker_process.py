"""A worker process running DriftSweep on a fake comparison, for the test that kills it mid-sweep
(tests/workflows/test_drift_sweep_kill.py).

`python -m tests.support.drift_worker_process <temporal address> <task queue> <database url>
<calls file>`: each comparison appends `<environment>` to the calls file; `env1`'s never returns,
so the process is killed while that activity runs and the others have completed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.drift import DriftActivities
from activities.threads import ActivityThreads
from lockstep.store.engine import Store
from tests.support.drift_fakes import FakeDrift
from workflows.drift import DriftSweep

STUCK = "env1"


def main(address: str, task_queue: str, database_url: str, calls: Path) -> None:
    environments = [("shop", f"env{i}", "https://git.example.com/acme/shop.git") for i in range(4)]

    def sweep_one(
        *,
        application: str,
        environment: str,
        repository: str,
        now: datetime,
        progress: Callable[[str], None],
        since: datetime | None = None,
        still: Callable[[], str | None] | None = None,
    ) -> FakeDrift:
        with calls.open("a") as written:
            written.write(environment + "\n")
        while environment == STUCK:  # until the process is killed
            progress(f"reading {environment}")
            time.sleep(0.2)
        return FakeDrift(state="in_sync")

    async def serve() -> None:
        client = await Client.connect(address, data_converter=pydantic_data_converter)
        threads = ActivityThreads(activities=8, local_activities=2)
        drift = DriftActivities(
            store=Store.from_url(database_url),
            sweep_one=sweep_one,
            list_environments=lambda: environments,
            threads=threads,
        )
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[DriftSweep],
            activities=[drift.list_environments, drift.sweep_environment],
        ):
            await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
