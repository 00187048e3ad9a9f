"""Commands on a host: the deploy commands of a release and its health checks.

Owns `run_commands` (in order, the first failure raises with the results so far) and how a
failed command is described (`describe_failure`); the health commands' loop lives in
`lockstep.health.commands`. Messages never carry a command's output (it may print
secrets); the output tail is kept in the step record. Runs over any `HostConnection`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lockstep.domain.errors import DeploymentStepFailed
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
            raise with_results(DeploymentStepFailed(describe_failure(conn, result)), results)
    return results


def failed_results(err: BaseException) -> list[CommandResult]:
    """The command results attached to a failure raised by `run_commands` or `verify_health`."""
    results = getattr(err, "results", None)
    return list(results) if isinstance(results, list) else []


def describe_failure(conn: HostConnection, result: CommandResult) -> str:
    """`<host>: command 'x' exited with 3`. The output is deliberately not in the message: messages
    travel into Temporal's history and the deployment record, where a command's output (which may
    print secrets) does not belong; it is kept, tail only, in the step record."""
    return f"{conn.name}: command {result.command!r} {command_status(result)}"


def command_status(result: CommandResult) -> str:
    if result.timed_out:
        return f"timed out after {result.duration_seconds:.1f}s"
    return f"exited with {result.exit_code}"


def with_results(err: DeploymentStepFailed, results: list[CommandResult]) -> DeploymentStepFailed:
    # Set as an attribute, not a subclass: the workflow matches failures by exact class name.
    err.results = results  # type: ignore[attr-defined]
    return err
