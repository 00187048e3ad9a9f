"""Running blocking work in a thread while the activity heartbeats its latest progress.

Heartbeats are how cancellation reaches an activity: when it arrives, the work is told to stop
at its next checkpoint and is awaited, so the activity never returns while a target is still
being changed behind its back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from temporalio import activity

from activities.threads import ActivityThreads

T = TypeVar("T")


async def run_with_heartbeat(
    work: Callable[[Callable[[str], None], threading.Event], T], *, threads: ActivityThreads, interval: float
) -> T:
    cancelled = threading.Event()
    latest = ["started"]

    def progress(message: str) -> None:
        latest[0] = message
        activity.logger.debug(message)

    future = asyncio.ensure_future(
        threads.run(threads.interruptible, lambda event: work(progress, event), cancelled)
    )
    # The first heartbeat goes out after `interval` (a third of the heartbeat timeout): short
    # activities, the common case, finish without any heartbeat round trip to the server.
    try:
        while True:
            done, _ = await asyncio.wait({future}, timeout=interval)
            if done:
                return future.result()
            activity.heartbeat(latest[0])
    except asyncio.CancelledError:
        cancelled.set()
        await asyncio.wait({future})
        raise
