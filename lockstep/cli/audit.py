"""`lockstep audit verify|list`: checking and reading the tamper-evident audit trail.

Reads the configured database directly (like `lockstep list`); it never writes to the trail.
The chain and its limits are described in `lockstep.store.audit` and docs/audit.md.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from lockstep.cli.common import (
    OutputFormat,
    OutputOption,
    console,
    err_console,
    handles_errors,
    print_json,
    settings,
)

if TYPE_CHECKING:
    from lockstep.store.audit import AuditEventRecord

app = typer.Typer(
    help="The tamper-evident audit trail: verify its hash chain, list its entries.\n\n"
    "Example: lockstep audit verify\n\n"
    "Docs: docs/audit.md, docs/cli.md#lockstep-audit",
    no_args_is_help=True,
)


@app.command("verify")
def verify(
    anchor: str | None = typer.Option(
        None, "--anchor", help="a head hash recorded earlier; it must still be in the chain"
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Recompute the hash chain; exit 1 naming every edited, deleted, reordered or inserted row.

    Example: lockstep audit verify --anchor HEAD_HASH_RECORDED_EARLIER

    Docs: docs/audit.md, docs/cli.md#lockstep-audit-verify
    """
    _verify(anchor, output)


@handles_errors
def _verify(anchor: str | None, output: OutputFormat) -> None:
    from lockstep.store.audit import verify_chain
    from lockstep.store.engine import Store

    with Store.open_existing(settings().database_url).read_session() as session:
        result = verify_chain(session=session, anchor=anchor)
    if output == OutputFormat.json:
        print_json(dataclasses.asdict(result))
    elif result.ok:
        head = result.head_hash or "(empty trail)"
        console.print(
            f"audit trail intact: {result.checked} entries, head {head}", highlight=False, soft_wrap=True
        )
        if result.head_hash:
            err_console.print("record the head hash elsewhere to detect a full rewrite later")
    else:
        err_console.print(
            f"[bold red]audit trail broken[/] ({result.checked} entries checked, "
            f"{len(result.problems)} problems; what each means: docs/audit.md):",
            highlight=False,
        )
        for problem in result.problems:
            console.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(1)


@app.command("list")
def list_(
    deployment: str | None = typer.Option(None, "--deployment", "-d", help="only this deployment's entries"),
    limit: int = typer.Option(200, "--limit", "-n", min=1, help="the newest N entries"),
    output: OutputFormat = OutputOption,
) -> None:
    """The newest audit entries, oldest first.

    Example: lockstep audit list --deployment shop.staging.0d1a26e67d

    Docs: docs/audit.md, docs/cli.md#lockstep-audit-list
    """
    _list(deployment, limit, output)


@handles_errors
def _list(deployment: str | None, limit: int, output: OutputFormat) -> None:
    from lockstep.store.audit import events_for, normalised_at
    from lockstep.store.engine import Store

    with Store.open_existing(settings().database_url).read_session() as session:
        rows = events_for(session=session, deployment_id=deployment, limit=limit)
    if output == OutputFormat.json:
        print_json([_as_json(r) for r in rows])
        return
    if not rows:
        console.print("no audit entries")
        return
    table = Table(title="audit trail", title_justify="left")
    for column in ("seq", "at", "kind", "actor", "source", "deployment", "detail"):
        table.add_column(column)
    for r in rows:
        detail = r.detail_json if r.detail_json != "{}" else ""
        table.add_row(
            str(r.seq),
            normalised_at(r.at)[:19] + "Z",
            r.kind,
            r.actor or "",
            r.actor_source,
            r.deployment_id or "",
            Text(detail if len(detail) <= 60 else detail[:57] + "..."),
        )
    console.print(table)


def _as_json(record: AuditEventRecord) -> dict[str, Any]:
    from lockstep.store.audit import normalised_at

    data = record.model_dump(mode="json", exclude={"detail_json"})
    try:
        data["detail"] = json.loads(record.detail_json)
    except ValueError:  # edited by hand into something else; `audit verify` reports it
        data["detail"] = record.detail_json
    data["at"] = normalised_at(record.at)
    data["recorded_at"] = normalised_at(record.recorded_at)
    return data
