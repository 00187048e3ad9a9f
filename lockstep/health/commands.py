"""A host component's health commands: every command, in order, until one attempt passes them
all or the component's health timeout is up (`verify_health`).

Deliberately does not: run deploy commands (`lockstep.targets.host_commands`) or check URLs
(`lockstep.health.http`, called after these have passed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from lockstep.domain.errors import HealthCheckFailed
from lockstep.domain.models import HealthSpec
from lockstep.targets.host import CommandResult, HostConnection
from lockstep.targets.host_commands import command_status, describe_failure, with_results


def verify_health(
    conn: HostConnection,
    health: HealthSpec,
    *,
    cwd: str | None,
    env: Mapping[str, str],
    command_timeout: float,
    max_output: int,
    heartbeat: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[CommandResult]:
    """Run every health command until one attempt passes them all, or `timeout_seconds` is up.

    A failing attempt stops at its first failing command; the next attempt starts after
    `interval_seconds` (never sleeping past the deadline) and reruns the whole set. `heartbeat`
    is called between attempts, so an activity can report progress and receive cancellation
    there. Raises HealthCheckFailed naming the last failing command, with its output tail and
    the attempt's results as `results`.
    """
    if not health.commands:
        return []
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        results: list[CommandResult] = []
        for command in health.commands:
            result = conn.run(command, cwd=cwd, env=env, timeout=command_timeout, max_output=max_output)
            results.append(result)
            if not result.ok:
                break
        else:
            return results
        failed = results[-1]
        remaining = health.timeout_seconds - (clock() - started)
        if remaining <= 0:
            message = (
                f"health check did not pass within {health.timeout_seconds:g}s "
                f"({attempt} attempt{'s' if attempt != 1 else ''}); last failure: "
                + describe_failure(conn, failed)
            )
            raise with_results(HealthCheckFailed(message), results)
        heartbeat(f"attempt {attempt} failed at {failed.command!r} ({command_status(failed)}); retrying")
        sleep(min(health.interval_seconds, remaining))
