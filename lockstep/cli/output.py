"""Human-readable rendering of plans and deployments (rich tables). JSON lives in common.py."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from lockstep.cli.common import console
from lockstep.cli.terminal import plain, printable
from lockstep.domain.changes import ChangeAction
from lockstep.domain.messages import DeploymentView, StepChanges
from lockstep.domain.models import Plan
from lockstep.domain.status import DeploymentStatus

SHOWN_CHANGES = 20  # changed subjects listed under a step's counts; `--output json` lists all stored

_STATUS_STYLE = {
    DeploymentStatus.SUCCEEDED: "green",
    DeploymentStatus.FAILED: "red",
    DeploymentStatus.ROLLED_BACK: "yellow",
    DeploymentStatus.ROLLBACK_FAILED: "bold red",
    DeploymentStatus.DENIED: "red",
    DeploymentStatus.REJECTED: "red",
    DeploymentStatus.DEPLOYING: "cyan",
    DeploymentStatus.ROLLING_BACK: "yellow",
    DeploymentStatus.AWAITING_APPROVAL: "magenta",
}


def styled(status: DeploymentStatus) -> str:
    style = _STATUS_STYLE.get(status, "white")
    return f"[{style}]{status.value}[/]"


def print_plan(plan: Plan, *, title: str) -> None:
    if plan.is_empty:
        console.print(f"{title}: nothing to deploy (every component is up to date)")
        return
    table = Table(title=title, title_justify="left")
    for column in ("wave", "component", "kind", "target", "action", "reason"):
        table.add_column(column)
    wave_of = {name: i + 1 for i, wave in enumerate(plan.waves) for name in wave}
    for c in sorted(plan.components, key=lambda c: wave_of.get(c.name, 0)):
        table.add_row(str(wave_of.get(c.name, "")), c.name, c.kind, c.target, c.action.value, plain(c.reason))
    console.print(table)
    if plan.unchanged:
        console.print(f"unchanged: {', '.join(plan.unchanged)}")


def print_view(view: DeploymentView) -> None:
    console.print(
        f"[bold]{view.id}[/]  {view.application}/{view.environment}  commit {view.commit[:12]}  "
        f"{styled(view.status)}"
    )
    console.print(
        f"trigger {view.trigger}"
        + (f" by {view.actor}" if view.actor else "")
        + (f"  started {view.created_at}" if view.created_at else "")
        + (f"  finished {view.finished_at}" if view.finished_at else "")
    )
    if view.error:
        console.print(Text("reason: ", style="red") + plain(view.error), highlight=False)
    for warning in view.policy_warnings:
        console.print(Text("policy warning: ", style="yellow") + plain(warning), highlight=False)
    print_plan(view.plan, title="plan")
    print_approvals(view)
    if view.steps:
        table = Table(title="steps", title_justify="left")
        for column in ("component", "host", "action", "status", "finished", "changes", "output (tail)"):
            table.add_column(column)
        for s in view.steps:
            tail = (s.output or "").strip().splitlines()[-1:] if s.output else []
            table.add_row(
                s.component,
                plain(s.host),
                s.action,
                s.status.value,
                s.finished_at or "",
                changes_cell(s.changes),
                plain(tail[0][:80] if tail else ""),
            )
        console.print(table)


def changes_cell(changes: StepChanges | None) -> Text:
    """`1 configured, 4 unchanged`, then each subject that changed (first `SHOWN_CHANGES`).
    Plain text: a subject such as `/srv/[x]` is not rich markup."""
    if changes is None:
        return Text("")
    changed = [i for i in changes.items if i.action != ChangeAction.UNCHANGED]
    lines = [changes.summary or "no changes"]
    lines += [f"{i.action.value} {printable(i.subject, one_line=True)}" for i in changed[:SHOWN_CHANGES]]
    listed = sum(n for action, n in changes.counts.items() if action != ChangeAction.UNCHANGED.value)
    more = max(listed, len(changed)) - min(len(changed), SHOWN_CHANGES)
    if more > 0:
        lines.append(f"... and {more} more")
    return Text("\n".join(lines))


def print_list(views: list[DeploymentView], *, title: str = "deployments") -> None:
    if not views:
        console.print("no deployments")
        return
    table = Table(title=title, title_justify="left")
    # Ids and statuses are what people copy and read: never cut them short on a narrow terminal.
    table.add_column("id", no_wrap=True, min_width=max(len(v.id) for v in views))
    for column in ("application", "environment", "commit"):
        table.add_column(column)
    table.add_column("status", no_wrap=True)
    for column in ("trigger", "created"):
        table.add_column(column)
    for v in views:
        table.add_row(
            v.id, v.application, v.environment, v.commit[:12], styled(v.status), v.trigger, v.created_at or ""
        )
    console.print(table)


def print_approvals(view: DeploymentView) -> None:
    """Decisions so far; for a deployment awaiting approval, how many more it needs."""
    counted = [a for a in view.approvals if a.get("decision") == "approve" and a.get("counted") == "true"]
    if view.status == DeploymentStatus.AWAITING_APPROVAL:
        need = f" of {view.approvals_required}" if view.approvals_required else ""
        console.print(f"awaiting approval: {len(counted)}{need} approvals so far", highlight=False)
    if not view.approvals:
        return
    table = Table(title="approvals", title_justify="left")
    for column in ("approver", "decision", "counted", "via", "at", "comment / reason"):
        table.add_column(column)
    for a in view.approvals:
        note = a.get("reason") or a.get("comment") or ""
        table.add_row(
            plain(a.get("approver", "")),
            a.get("decision", ""),
            a.get("counted", ""),
            a.get("source", ""),
            a.get("at", ""),
            plain(note[:80]),
        )
    console.print(table)
