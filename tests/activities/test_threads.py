"""Blocking work runs on the pool of its kind of activity: a local activity (a short store write
next to the workflow) is served while every thread for activities is held by long work, and the
work sees its activity's context, as with `asyncio.to_thread`. Run through the SDK's
`ActivityEnvironment`, which gives each call a real activity context."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.threads import ActivityThreads


def _local() -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, is_local=True)
    return env


async def test_a_local_activity_does_not_wait_behind_busy_activity_threads() -> None:
    threads = ActivityThreads(activities=1, local_activities=1)
    release = threading.Event()
    try:
        busy = asyncio.ensure_future(ActivityEnvironment().run(threads.run, release.wait, 60))
        queued = asyncio.ensure_future(ActivityEnvironment().run(threads.run, lambda: "second"))

        def where() -> tuple[str, bool]:
            return threading.current_thread().name, activity.info().is_local

        # Guarded against a hang only: it must complete while the activity thread is held.
        name, is_local = await asyncio.wait_for(_local().run(threads.run, where), 30)
        assert name.startswith("lockstep-local-activity"), name
        assert is_local, "the work did not run in its activity's context"
        assert not busy.done() and not queued.done(), "the activity pool has one thread, held"
    finally:
        release.set()
    assert await busy is True
    assert await queued == "second"
    threads.shutdown()


def test_a_pool_has_a_thread_at_least() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        ActivityThreads(activities=0, local_activities=1)
