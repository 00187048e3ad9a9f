"""The floor for bench/orchestration_overhead.py: no-op activities in waves, nothing else.

A module of its own so the workflow runs in Temporal's sandbox exactly as Lockstep's does.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
async def noop(name: str) -> str:
    return name


@workflow.defn(name="BareWaves")
class BareWaves:
    @workflow.run
    async def run(self, waves: int, width: int) -> int:
        done = 0
        for w in range(waves):
            results = await asyncio.gather(
                *(
                    workflow.execute_activity(noop, f"c{w}-{i}", start_to_close_timeout=timedelta(seconds=30))
                    for i in range(width)
                )
            )
            done += len(results)
        return done
