"""The `lockstep` entry point: one typer app, commands registered from their modules."""

from __future__ import annotations

import typer

from lockstep.cli import approvals, audit, deployments, dev, plan, policy, server

app = typer.Typer(
    name="lockstep",
    help="GitOps deployments on Temporal: dependency-ordered, governed, self-healing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("dev")(dev.dev)
app.command("worker")(server.worker)
app.command("api")(server.api)
app.command("setup")(server.setup)
app.command("plan")(plan.plan)
app.command("deploy")(deployments.deploy)
app.command("status")(deployments.status)
app.command("list")(deployments.list_)
app.command("history")(deployments.history)
app.add_typer(policy.app, name="policy")
app.command("approve")(approvals.approve)
app.command("reject")(approvals.reject)
app.add_typer(audit.app, name="audit")


def run() -> None:
    app()
