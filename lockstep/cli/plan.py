"""`lockstep plan <repo>`: render a commit and show what would deploy where, and why, with the policy
decision each environment would get (deny, warnings, approvals required). Deploys nothing.

The policy is asked exactly as a deployment would ask it at plan time (trigger `manual`, no
approvals yet, now); the quorum shown is the larger of the manifest's and the policy's.
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from lockstep.cli.common import (
    OutputFormat,
    OutputOption,
    console,
    err_console,
    handles_errors,
    print_json,
    settings,
)
from lockstep.cli.output import print_plan
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.models import CommitInfo, DeployedRevision, Plan
from lockstep.domain.policy import PolicyDecision
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.manifest.loader import environment as manifest_environment
from lockstep.manifest.loader import load_manifest
from lockstep.planning.plan import make_plan
from lockstep.policy.engine import PolicyEngine, make_policy_engine
from lockstep.policy.input import deploy_input, rfc3339
from lockstep.settings import Settings
from lockstep.store.engine import DatabaseMissing, Store
from lockstep.store.revisions import last_revisions
from lockstep.targets.registry import TargetRegistry


def _repository_url(s: Settings, repo: str) -> str:
    """A configured repository's name or URL, else the path or URL as given."""
    for configured in s.repositories:
        if repo in (configured.name, configured.url):
            return configured.url
    return repo


def _existing_store(s: Settings) -> Store | None:
    """The system of record if there is one: a preview creates no database, and without one
    nothing has been deployed yet, so every component plans as new."""
    try:
        return Store.open_existing(s.database_url)
    except DatabaseMissing as missing:
        err_console.print(f"note: {missing}; planning as if nothing were deployed", highlight=False)
        return None


def plan(
    repo: str = typer.Argument(..., help="repository: a configured name, a URL or a local path"),
    ref: str = typer.Option("HEAD", "--ref", help="branch, tag or commit to plan"),
    env: str | None = typer.Option(None, "--env", "-e", help="one environment (default: all)"),
    output: OutputFormat = OutputOption,
) -> None:
    """Preview a commit: validate its lockstep.yaml, render it and plan each environment."""
    _plan(repo, ref, env, output)


@handles_errors
def _plan(repo: str, ref: str, env: str | None, output: OutputFormat) -> None:
    s = settings()
    url = _repository_url(s, repo)
    renderer = CommitRenderer(GitMirrors(s.mirrors_dir), TargetRegistry(s.targets).types())
    sha = renderer.resolve(url, ref)
    store = _existing_store(s)
    manifest = load_manifest(renderer.tree(url, sha))
    names = [manifest_environment(manifest, env).name] if env else [e.name for e in manifest.environments]
    engine = make_policy_engine(s.policy)
    results = []
    for name in names:
        rendered = renderer.render(url, sha, name)
        live: dict[str, DeployedRevision] = {}
        if store is not None:
            with store.read_session() as session:
                live = last_revisions(session=session, application=manifest.application, environment=name)
        planned = make_plan(list(rendered.components.values()), live)
        decision = _decide(engine, manifest.application, name, rendered.commit, planned)
        spec = manifest_environment(manifest, name).approvals
        required = max(spec.required if spec else 0, decision.approvals_required)
        results.append((name, rendered, planned, decision, required))
    if output == OutputFormat.json:
        print_json(
            [
                {
                    "application": manifest.application,
                    "environment": name,
                    "commit": rendered.commit.model_dump(),
                    "plan": p.model_dump(mode="json"),
                    "policy": {
                        "allowed": not d.denied,
                        "deny": d.deny,
                        "warn": d.warn,
                        "approvals_required": required,
                        "engine": d.engine,
                        "bundle_revision": d.bundle_revision,
                        "input_sha256": d.input_sha256,
                    },
                }
                for name, rendered, p, d, required in results
            ]
        )
        if any(d.denied for _, _, _, d, _ in results):
            raise typer.Exit(1)
        return
    for name, rendered, p, d, required in results:
        console.print(
            f"[bold]{manifest.application}/{name}[/] at {rendered.commit.sha[:12]} "
            f"({rendered.commit.message.splitlines()[0] if rendered.commit.message else ''})",
            highlight=False,
        )
        print_plan(p, title=f"plan for {name}")
        _print_decision(d, required)
    if any(d.denied for _, _, _, d, _ in results):
        raise typer.Exit(1)


def _decide(
    engine: PolicyEngine, application: str, environment: str, commit: CommitInfo, plan: Plan
) -> PolicyDecision:
    if plan.is_empty:  # nothing would change: a deployment asks no policy either
        return PolicyDecision(
            deny=[], warn=[], approvals_required=0, engine=engine.name, bundle_revision="", input_sha256=""
        )
    now = rfc3339(datetime.now(UTC))
    document = deploy_input(
        application=application,
        environment=environment,
        commit=commit,
        trigger="manual",
        actor=None,
        plan=plan,
        approvals=[],
        now=now,
    )
    return engine.evaluate_deploy(document)


def _print_decision(decision: PolicyDecision, required: int) -> None:
    for reason in decision.deny:
        console.print(f"  [red]deny:[/] {reason}", highlight=False)
    for reason in decision.warn:
        console.print(f"  [yellow]warn:[/] {reason}", highlight=False)
    verdict = "[red]denied[/]" if decision.denied else "[green]allowed[/]"
    gate = f", {required} approval(s) required" if required else ", no approval required"
    revision = decision.bundle_revision[:12] or "-"
    console.print(f"  policy: {verdict}{gate} ({decision.engine}, bundle {revision})", highlight=False)
