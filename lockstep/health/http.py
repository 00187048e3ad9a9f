"""HTTP health checks (`health.http`): GET each URL from the worker until it answers as expected.

Owns: one GET per attempt with a per-request timeout, comparing the status exactly (redirects are
not followed, so a 301 is a 301), retrying every `interval_seconds` until every check has passed
or the component's health `timeout_seconds` — one deadline for all its http checks — is up, and
a failure that names the URL, the last status or connection error, and the number of attempts.

Checks run in manifest order; a check is retried until it passes before the next one starts.
Requests go straight from the worker: proxies from the environment are not used. URLs are shown
without user info. Response bodies are never put into messages (they travel into Temporal's
history and the deployment record).

Deliberately does not: decide when checks run (`host` and `kubernetes` call it after their own
health has passed) or know about hosts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from lockstep.domain.errors import HealthCheckFailed
from lockstep.domain.models import HealthSpec, HttpCheck
from lockstep.domain.redaction import redact, safe_url

_MIN_REQUEST_TIMEOUT = 1.0  # even an attempt at the deadline gets this long to answer


def verify_http(
    health: HealthSpec,
    *,
    label: str,
    heartbeat: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Run every check of `health.http`; return one report line per check ('' when none).

    `label` prefixes the failure message (a host or component name). `heartbeat` is called
    between attempts, so the caller can report progress and raise on cancellation there.
    Raises HealthCheckFailed when a check has not passed by the deadline.
    """
    if not health.http:
        return ""
    deadline = clock() + health.timeout_seconds
    with httpx.Client(follow_redirects=False, trust_env=False, transport=transport) as client:
        return "\n".join(
            _until_passes(client, check, health, deadline, label, heartbeat, sleep, clock)
            for check in health.http
        )


def _until_passes(
    client: httpx.Client,
    check: HttpCheck,
    health: HealthSpec,
    deadline: float,
    label: str,
    heartbeat: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> str:
    url = safe_url(check.url)
    attempt = 0
    while True:
        attempt += 1
        timeout = min(check.timeout_seconds, max(deadline - clock(), _MIN_REQUEST_TIMEOUT))
        got = _get(client, check, url, timeout, label)
        attempts = f"{attempt} attempt{'s' if attempt != 1 else ''}"
        if got == check.status:
            return f"GET {url} -> {got} ({attempts})"
        last = f"status {got}" if isinstance(got, int) else f"connection error: {got}"
        remaining = deadline - clock()
        if remaining <= 0:
            raise HealthCheckFailed(
                f"{label}: http check GET {url} did not answer {check.status} within "
                f"{health.timeout_seconds:g}s ({attempts}); last: {last}"
            )
        heartbeat(f"GET {url}: attempt {attempt} got {last}; retrying")
        sleep(min(health.interval_seconds, remaining))


def _get(client: httpx.Client, check: HttpCheck, url: str, timeout: float, label: str) -> int | str:
    """The response's status, or a description of why there was none."""
    try:
        return client.get(check.url, timeout=timeout).status_code
    except httpx.InvalidURL as e:  # cannot get better by waiting
        raise HealthCheckFailed(f"{label}: http check GET {url}: invalid URL ({e})") from None
    except httpx.UnsupportedProtocol as e:
        raise HealthCheckFailed(f"{label}: http check GET {url}: {e}") from None
    except httpx.TimeoutException:
        return f"no answer within {timeout:g}s"
    except httpx.HTTPError as e:
        return f"{type(e).__name__}: {redact(str(e))}" if str(e) else type(e).__name__
