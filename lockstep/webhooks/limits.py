"""Limits on webhook traffic: the body-size cap and a token bucket per source address.

Owns `WebhookLimits` (what the router factory is configured with) and `TokenBuckets`, an
in-process limiter: each source starts with `burst` tokens, regains `requests_per_minute` per
minute, and a request that finds no token is told how long to wait. The buckets live in one API
process; behind several replicas each enforces its own share, which is what a limit meant to
shield this process needs.

Deliberately does not: decide what a "source" is (the router passes the client address as the
ASGI server saw it — behind a proxy, set `FORWARDED_ALLOW_IPS` in the API's environment), nor
deduplicate deliveries: that is Temporal's job, through workflow ids.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class WebhookLimits:
    max_body_bytes: int = MIB
    requests_per_minute: float = 60.0
    burst: int = 20
    max_sources: int = 10_000  # buckets kept; idle full ones are dropped first

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1 or self.requests_per_minute <= 0 or self.burst < 1:
            raise ValueError("max_body_bytes, requests_per_minute and burst must be positive")


class TokenBuckets:
    """One token bucket per source; `take` spends a token or says how long until one is there."""

    def __init__(self, limits: WebhookLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = limits.requests_per_minute / 60.0  # tokens per second
        self._burst = float(limits.burst)
        self._max_sources = limits.max_sources
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # source -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, source: str) -> float:
        """0.0 when the request may go ahead (a token was spent), else the seconds to wait."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(source, (self._burst, now))
            tokens = min(self._burst, tokens + (now - at) * self._rate)
            if tokens >= 1.0:
                self._buckets[source] = (tokens - 1.0, now)
                self._forget_idle(now)
                return 0.0
            self._buckets[source] = (tokens, now)
            return (1.0 - tokens) / self._rate

    @staticmethod
    def retry_after(wait: float) -> str:
        """A `Retry-After` header value: whole seconds, at least 1."""
        return str(max(1, math.ceil(wait)))

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) <= self._max_sources:
            return
        # A bucket that has refilled completely is indistinguishable from a new one.
        full_after = self._burst / self._rate
        for source, (_, at) in list(self._buckets.items()):
            if now - at >= full_after:
                del self._buckets[source]
        while len(self._buckets) > self._max_sources:  # still too many: drop the oldest
            del self._buckets[min(self._buckets, key=lambda s: self._buckets[s][1])]
