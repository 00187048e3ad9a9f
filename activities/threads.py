"""The threads that run the activities' blocking work: one pool for activities, one for local ones.

`asyncio.to_thread` would put every blocking call on the event loop's default pool, sized
min(32, CPUs + 4): with 64 activities allowed at once, a 30-second local store write could wait
behind SSH deploys for minutes and time out. Here each kind of activity gets a pool as large as
the worker lets that kind run at once, so no activity ever waits for a thread, and a local
activity (short writes next to the workflow: record_status, record_outcome, join_lane,
record_approval) never waits behind a long deploy.

The worker (`workers.main`) creates one `ActivityThreads`, hands it to every activity class and
shuts it down after the Temporal worker has stopped. Deliberately does not bound the work itself:
timeouts and cancellation belong to the activities.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from temporalio import activity

P = ParamSpec("P")
T = TypeVar("T")


class ActivityThreads:
    def __init__(self, *, activities: int, local_activities: int) -> None:
        """`activities` and `local_activities`: how many of each the worker runs at once
        (`max_concurrent_activities`, `max_concurrent_local_activities`). An activity runs one
        blocking call at a time, so that many threads are enough for none to wait."""
        if activities < 1 or local_activities < 1:
            raise ValueError(f"thread pools need at least one thread, not {activities}/{local_activities}")
        self.activities = activities
        self.local_activities = local_activities
        self._running: set[threading.Event] = set()  # the cancel event of each work in a thread
        self._lock = threading.Condition()
        self._remote = ThreadPoolExecutor(activities, thread_name_prefix="lockstep-activity")
        self._local = ThreadPoolExecutor(local_activities, thread_name_prefix="lockstep-local-activity")

    def executor(self) -> ThreadPoolExecutor:
        """The pool for the activity running in the current task."""
        return self._local if activity.info().is_local else self._remote

    async def run(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`func(*args, **kwargs)` on the current activity's pool (called from an activity), in a
        copy of its context, as `asyncio.to_thread` would: `activity.info()` works in the thread."""
        call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.executor(), call)

    def interruptible(self, work: Callable[[threading.Event], T], cancelled: threading.Event) -> T:
        """Run `work(cancelled)` (in a pool thread) so that `interrupt_all` can reach it."""
        with self._lock:
            self._running.add(cancelled)
        try:
            return work(cancelled)
        finally:
            with self._lock:
                self._running.discard(cancelled)
                self._lock.notify_all()

    def interrupt_all(self, *, wait: float) -> int:
        """Set the cancel event of every work running (commands on targets are killed, as on a
        cancellation) and wait up to `wait` seconds for them to end; how many were still running.
        For a worker that must stop at once: nothing it started keeps running after it."""
        deadline = time.monotonic() + wait
        with self._lock:
            for event in self._running:
                event.set()
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            return len(self._running)

    def shutdown(self) -> None:
        """Release the threads; called once the worker has stopped, so nothing is running."""
        self._remote.shutdown(wait=False, cancel_futures=True)
        self._local.shutdown(wait=False, cancel_futures=True)
