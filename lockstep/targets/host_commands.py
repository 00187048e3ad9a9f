"""Commands on a host: the deploy commands of a release and its health checks.

Owns `run_commands` (in order, the first failure raises with the results so far) and
`verify_health` (every health command until one attempt passes them all, or time is up), and
how their failures are described. Messages never carry a command's output (it may print
secrets); the output tail is kept in the step record. Runs over any `HostConnection`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from lockstep.domain.errors import DeploymentStepFailed, HealthCheckFailed
from lockstep.domain.models import HealthSpec
from lockstep.targets.host import CommandResult, HostConnection


def run_commands(
    conn: HostConnection,
    commands: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    timeout: float,
    max_output: int,
) -> list[CommandResult]:
    """Run `commands` in order; the first failure or timeout raises DeploymentStepFailed.

    The exception carries the results so far (the failing one last) as `results`; read them with
    `failed_results`.
    """
    results: list[CommandResult] = []
    for command in commands:
        result = conn.run(command, cwd=cwd, env=env, timeout=timeout, max_output=max_output)
        results.append(result)
        if not result.ok:
            raise _with_results(DeploymentStepFailed(describe_failure(conn, result)), results)
    return results


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
            raise _with_results(HealthCheckFailed(message), results)
        heartbeat(f"attempt {attempt} failed at {failed.command!r} ({_status(failed)}); retrying")
        sleep(min(health.interval_seconds, remaining))


def failed_results(err: BaseException) -> list[CommandResult]:
    """The command results attached to a failure raised by `run_commands` or `verify_health`."""
    results = getattr(err, "results", None)
    return list(results) if isinstance(results, list) else []


def describe_failure(conn: HostConnection, result: CommandResult) -> str:
    """`<host>: command 'x' exited with 3`. The output is deliberately not in the message: messages
    travel into Temporal's history and the deployment record, where a command's output (which may
    print secrets) does not belong; it is kept, tail only, in the step record."""
    return f"{conn.name}: command {result.command!r} {_status(result)}"


def _status(result: CommandResult) -> str:
    if result.timed_out:
        return f"timed out after {result.duration_seconds:.1f}s"
    return f"exited with {result.exit_code}"


def _with_results(err: DeploymentStepFailed, results: list[CommandResult]) -> DeploymentStepFailed:
    # Set as an attribute, not a subclass: the workflow matches failures by exact class name.
    err.results = results  # type: ignore[attr-defined]
    return err
