"""`lockstep drift`: what the last drift sweep found per environment (docs/drift.md).

Reads the system of record (`lockstep.drift.sweep.drift_views`); `--sweep-now` first runs a
sweep through `lockstep.cli.drift_sweep`. Text output is a line per environment and a table of
its open items; `--output json` is one object per environment (`application`, `environment`,
`state`, `reason`, `pending`, `items`, `checked_at`).
"""

from __future__ import annotations

import typer

from lockstep.cli.common import OutputFormat, OutputOption, console, handles_errors, print_json, settings
from lockstep.domain.drift import EnvironmentDrift

_STATE_STYLE = {"in_sync": "green", "drifted": "yellow", "unknown": "red"}


def drift(
    application: str | None = typer.Argument(None, help="application name from lockstep.yaml (default: all)"),
    env: str | None = typer.Option(None, "--env", "-e", help="only this environment"),
    sweep_now: bool = typer.Option(
        False, "--sweep-now", help="run a sweep of every deployed environment first and wait for it"
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Show what the last drift sweep found per environment.

    Each environment is in_sync, drifted or unknown (a target could not be read, with the
    reason); every difference still open (modified, missing, unexpected) is listed with the
    deployment that set its component live and what was decided (remediate, flag, ignore).

    --sweep-now runs a sweep first (the one the schedule lockstep-drift-sweep runs every
    drift.interval), waits for it, then shows what it recorded.

    Example: lockstep drift shop --env production --sweep-now --output json

    Docs: docs/drift.md, docs/cli.md#lockstep-drift
    """
    _drift(application, env, output, sweep_now=sweep_now)


@handles_errors
def _drift(
    application: str | None, env: str | None, output: OutputFormat, *, sweep_now: bool = False
) -> None:
    from lockstep.drift.sweep import drift_views
    from lockstep.store.engine import Store

    if sweep_now:
        from lockstep.cli.drift_sweep import sweep_and_wait

        sweep_and_wait(quiet=output == OutputFormat.json)

    views = drift_views(
        Store.open_existing(settings().database_url), application=application, environment=env
    )
    if output == OutputFormat.json:
        print_json([v.model_dump(mode="json") for v in views])
        return
    if not views:
        console.print("no drift sweep has been recorded for these environments yet")
        return
    for view in views:
        _print(view)


def _print(view: EnvironmentDrift) -> None:
    from rich.table import Table
    from rich.text import Text

    from lockstep.cli.terminal import plain

    line = Text(f"{view.application}/{view.environment}: ")
    line.append(view.state, style=_STATE_STYLE.get(view.state, ""))
    if view.checked_at:
        line.append(f" (checked {view.checked_at})")
    console.print(line)
    if view.reason:
        console.print(Text("  reason: ").append(plain(view.reason)))
    if view.pending:
        console.print(f"  pending (on the branch, not live): {', '.join(c[:12] for c in view.pending)}")
    if not view.items:
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("component", "where", "kind", "path", "decision", "first seen", "last deployment"):
        table.add_column(column)
    for item in view.items:
        last = item.last_deployment
        table.add_row(
            plain(item.component),
            plain(item.host or item.object),
            item.kind,
            plain(item.path),
            item.decision + (f" ({item.remediation})" if item.remediation else ""),
            item.first_seen,
            f"{last.id} by {last.actor}" if last and last.actor else (last.id if last else ""),
        )
    console.print(table)
