"""The measured phases of a load benchmark: paced requests (latencies), bursts (accepted per
second), and a round pairing a system with its floor, each phase on a quiet server."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

_R = TypeVar("_R")
Send = Callable[[], Awaitable[int]]  # one request; its HTTP-like status (202 = accepted)


async def timed(send: Send) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        status = await send()
    except Exception as err:  # counted, not fatal: the figures say how many failed
        print(f"  request failed: {type(err).__name__}: {err}", file=sys.stderr)
        status = 0
    return status, time.perf_counter() - started


async def paced(send: Send, rate: float, seconds: float) -> tuple[list[float], Counter[int]]:
    """Send at a fixed rate; latencies of the accepted requests and every status seen."""
    t0 = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(send)))
    results = await asyncio.gather(*tasks)
    return [lat for status, lat in results if status == 202], Counter(status for status, _ in results)


async def burst(send: Send, total: int, concurrency: int) -> tuple[float, Counter[int]]:
    """`total` requests, at most `concurrency` at once; accepted per second and every status."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> tuple[int, float]:
        async with gate:
            return await timed(send)

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(total)))
    elapsed = time.perf_counter() - started
    statuses = Counter(status for status, _ in results)
    return statuses[202] / elapsed, statuses


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def others(statuses: Counter[int]) -> str:
    rest = {k: v for k, v in statuses.items() if k != 202}
    return f" (not accepted: {dict(sorted(rest.items()))})" if rest else ""


@dataclass
class Round:
    """One round's four phases: paced latencies (s) and burst rates (accepted per second)."""

    floor_paced: list[float]
    lock_paced: list[float]
    floor_rate: float
    lock_rate: float
    not_accepted: str

    @property
    def p99_ratio(self) -> float:
        return pct(self.lock_paced, 0.99) / pct(self.floor_paced, 0.99)

    @property
    def burst_ratio(self) -> float:
        return self.lock_rate / self.floor_rate


async def run_round(
    pushes: Send,
    floor: Send,
    quiet: Callable[[], Awaitable[None]],
    *,
    rate: float,
    seconds: float,
    total: int,
    concurrency: int,
    lockstep_first: bool,
) -> Round:
    """Floor and Lockstep alternate, each phase on a quiet server; `lockstep_first` swaps each
    pair, since a phase runs on a server holding every workflow the phases before it left open."""

    async def pair(phase: Callable[[Send], Awaitable[_R]]) -> tuple[_R, _R]:
        await quiet()
        first = await phase(pushes if lockstep_first else floor)
        await quiet()
        second = await phase(floor if lockstep_first else pushes)
        return (second, first) if lockstep_first else (first, second)

    (floor_paced, floor_paced_statuses), (lock_paced, lock_paced_statuses) = await pair(
        lambda send: paced(send, rate, seconds)
    )
    (floor_rate, floor_burst_statuses), (lock_rate, lock_burst_statuses) = await pair(
        lambda send: burst(send, total, concurrency)
    )
    rest = "".join(
        f" {name}{others(statuses)}"
        for name, statuses in (
            ("floor paced", floor_paced_statuses),
            ("lockstep paced", lock_paced_statuses),
            ("floor burst", floor_burst_statuses),
            ("lockstep burst", lock_burst_statuses),
        )
        if others(statuses)
    )
    return Round(floor_paced, lock_paced, floor_rate, lock_rate, rest)
