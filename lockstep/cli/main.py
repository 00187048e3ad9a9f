"""The `lockstep` command line: one typer app, commands registered from their modules, and the one
place a `lockstep` process ends.

The app is built by the composition root (`workers.cli`, which the console script and
`python -m lockstep` run): it supplies what the `worker` command serves, since nothing in
`lockstep` imports the workers, workflows or activities.

`run` turns whatever a command ends with into an exit code (0, 1, 2: docs/cli.md), with the net of
`lockstep.cli.unexpected` under everything, and then leaves. A process that created a Temporal
client leaves without finalising the interpreter: the SDK's Rust runtime threads outlive the
event loop, and one completing a future while the interpreter finalises aborts the process
(`Fatal Python error: PyGILState_Release`, SIGABRT; sdk-python#300) after the command's work is
done, losing its exit code. Everything the command printed or logged is flushed first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import typer

from lockstep.cli import (
    approvals,
    audit,
    deployments,
    dev,
    drift_sweep,
    plan,
    policy,
    rollback,
    schema,
    server,
)
from lockstep.cli.server import WorkerServer
from lockstep.cli.unexpected import enable_debug, report_unexpected


def build_app(serve_worker: WorkerServer) -> typer.Typer:
    """The `lockstep` app; its `worker` command runs `serve_worker` with the settings."""
    app = typer.Typer(
        name="lockstep",
        help="GitOps deployments on Temporal: dependency-ordered, governed, self-healing.\n\n"
        "Example: lockstep deploy shop --env staging --wait\n\n"
        "Docs: docs/cli.md",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Help paragraphs are wrapped lines of a docstring: markdown joins them (rich keeps the
        # breaks). So no `<placeholder>` in help text: markdown reads it as HTML and drops it.
        rich_markup_mode="markdown",
    )
    app.callback()(options)
    app.command("dev")(dev.dev)
    app.command("worker")(server.worker_command(serve_worker))
    app.command("api")(server.api)
    app.command("setup")(server.setup)
    app.command("plan")(plan.plan)
    app.command("deploy")(deployments.deploy)
    app.command("rollback")(rollback.rollback)
    app.command("status")(deployments.status)
    app.command("list")(deployments.list_)
    app.command("history")(deployments.history)
    app.add_typer(policy.app, name="policy")
    app.command("approve")(approvals.approve)
    app.command("reject")(approvals.reject)
    app.add_typer(audit.app, name="audit")
    app.command("schema")(schema.schema)
    # `lockstep drift --sweep-now` once the drift command lands; hidden until then.
    app.command("drift-sweep", hidden=True)(drift_sweep.drift_sweep)
    return app


def options(
    debug: bool = typer.Option(
        False, "--debug", envvar="LOCKSTEP_DEBUG", help="print the full trace of an unexpected error"
    ),
) -> None:
    if debug:
        enable_debug()


def run(app: typer.Typer) -> None:
    leave(exit_code(app))


def exit_code(app: typer.Typer) -> int:
    """Run the command line's command; its exit code, whatever it ended with."""
    try:
        app()
    except SystemExit as ended:  # click ends every command this way, success included
        return _code_of(ended.code)
    except KeyboardInterrupt:  # outside click's own handling, which prints "Aborted!" and exits 1
        sys.stderr.write("aborted\n")
        return 1
    except Exception as err:
        return report_unexpected(err)
    return 0


def _code_of(code: str | int | None) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")  # sys.exit("message") prints it and means failure
    return 1


def leave(code: int) -> None:
    """End the process with `code`; without finalising if a Temporal client was ever created."""
    if not _client_opened():
        sys.exit(code)
    logging.shutdown()  # flushes every handler
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`lockstep … | head`) or stream: there is nothing more to deliver.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _client_opened() -> bool:
    """Whether this process created a Temporal client. Asked of the module that creates them
    only if a command imported it: importing it (and the SDK) costs every command time."""
    client = sys.modules.get("lockstep.orchestration.client")
    return client is not None and bool(client.client_opened())
