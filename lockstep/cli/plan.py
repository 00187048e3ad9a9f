"""`lockstep plan <repo>`: render a commit and show what would deploy where, and why, what that
would change on each host and cluster (looked at live through each kind's deliverer; `--diff` the
unified diffs: `lockstep.cli.plan_changes`), with the policy decision each environment would get
(deny, warnings, approvals required), asked with those change counts. Deploys nothing.

The policy is asked exactly as a deployment would ask it at plan time (trigger `promotion` for an
environment fed by `promote_from`, else `manual` by the user of `LOCKSTEP_TOKEN`, anonymous
without one; no approvals yet; now);
the quorum shown is the larger of the rules in force and the policy's. Whether the commit has yet
succeeded where `promote_from` asks is shown beside it: such a commit arrives by promotion.
Objects a `kubernetes` target's `namespaces` or `cluster_scoped` settings would refuse are shown
too (exit 1), judged by the built-in list of cluster-scoped kinds; the delivery enforces the same
limits on what the cluster says, before it applies anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from lockstep.domain.changes import ChangeSet
    from lockstep.domain.models import CommitInfo, Plan
    from lockstep.domain.policy import PolicyDecision
    from lockstep.policy.engine import PolicyEngine
    from lockstep.security.tokens import User
    from lockstep.settings import Settings
    from lockstep.store.engine import Store

PREVIEW_SECONDS = 60.0  # looking at every target of one environment; a host not done by then is shown
# as `unreachable: timed out after 60 s`


def _repository_url(s: Settings, repo: str) -> str:
    """A configured repository's name or URL, else the path or URL as given."""
    for configured in s.repositories:
        if repo in (configured.name, configured.url):
            return configured.url
    return repo


def _store_or_empty(s: Settings) -> Store:
    """The system of record, or, where there is none, an empty one in memory: a preview creates
    no database, and without one nothing has been deployed yet, so every component plans as new."""
    from lockstep.store.engine import DatabaseMissing, Store

    try:
        return Store.open_existing(s.database_url)
    except DatabaseMissing as missing:
        err_console.print(f"note: {missing}; planning as if nothing were deployed", highlight=False)
        return Store.from_url("sqlite://")


def plan(
    repo: str = typer.Argument(..., help="repository: a configured name, a URL or a local path"),
    ref: str = typer.Option("HEAD", "--ref", help="branch, tag or commit to plan"),
    env: str | None = typer.Option(None, "--env", "-e", help="one environment (default: all)"),
    diff: bool = typer.Option(
        False, "--diff", help="also print the unified diff of each file or object that would change"
    ),
    output: OutputFormat = OutputOption,
) -> None:
    """Preview a commit: validate its lockstep.yaml, render it and plan each environment.

    Shows what would deploy where and why, what that would change on each host and cluster
    (created, configured, unchanged, deleted; looked at live, nothing is changed), and the policy
    decision each environment would get. --diff also prints the unified diffs. Deploys nothing;
    exit 1 when the policy denies or a target's limits refuse the plan (a target that cannot be
    reached, or not looked at within 60 s, is shown as such).

    Example: lockstep plan .lockstep/demo/shop --env staging --diff

    Docs: docs/cli.md#lockstep-plan
    """
    _plan(repo, ref, env, output, with_diff=diff)


@handles_errors
def _plan(repo: str, ref: str, env: str | None, output: OutputFormat, *, with_diff: bool = False) -> None:
    from lockstep.cli.output import print_plan
    from lockstep.cli.plan_changes import masked, print_changes
    from lockstep.delivery.kinds import deliverers
    from lockstep.delivery.preview import preview_plan, with_changes
    from lockstep.delivery.rendering import CommitRenderer
    from lockstep.gitrepo.mirror import GitMirrors
    from lockstep.manifest.loader import environment as manifest_environment
    from lockstep.manifest.loader import load_manifest
    from lockstep.orchestration.admission import admit
    from lockstep.planning.plan import make_plan
    from lockstep.policy.engine import make_policy_engine
    from lockstep.security.known_secrets import masker_for
    from lockstep.security.tokens import user_for_token
    from lockstep.store.revisions import last_revisions
    from lockstep.targets.registry import TargetRegistry

    s = settings()
    url = _repository_url(s, repo)
    targets = TargetRegistry(s.targets)
    renderer = CommitRenderer(
        GitMirrors(s.mirrors_dir), targets.types(), target_namespaces=targets.namespaces()
    )
    sha = renderer.resolve(url, ref)
    store = _store_or_empty(s)
    manifest = load_manifest(renderer.tree(url, sha))
    names = [manifest_environment(manifest, env).name] if env else [e.name for e in manifest.environments]
    engine = make_policy_engine(s.policy)
    users = {n: (list(u.groups), u.email) for n, u in s.users.items()}
    token = os.environ.get("LOCKSTEP_TOKEN", "").strip()
    caller = user_for_token(s, token) if token else None
    masker = masker_for(s)
    delivery = deliverers(targets=targets, store=store, masker=masker)
    results = []
    for name in names:
        rendered = renderer.render(url, sha, name)
        with store.read_session() as session:
            live = last_revisions(session=session, application=manifest.application, environment=name)
        planned = make_plan(list(rendered.components.values()), live)
        # What it would change on each host and cluster, as the deployment's planning looks.
        previews = masked(
            preview_plan(
                delivery, planned, rendered.components, with_diff=with_diff, deadline_seconds=PREVIEW_SECONDS
            ),
            masker,
        )
        planned = with_changes(planned, previews)
        admission = admit(
            store=store,
            renderer=renderer,
            rendered=rendered,
            repository=url,
            application=manifest.application,
            environment=name,
            users=users,
        )
        # An environment fed by promotion is asked as a promotion would ask it; any other as a
        # manual deployment by the user of LOCKSTEP_TOKEN (anonymous without one).
        trigger = "promotion" if admission.promote_from else "manual"
        governed = not planned.is_empty or admission.rules_changed  # as the deployment decides
        decision = _decide(
            engine, manifest.application, name, rendered.commit, planned, trigger, caller, governed
        )
        required = max(admission.gate.required, decision.approvals_required)
        refused = targets.refusals(planned)
        results.append((name, rendered, planned, decision, required, admission, trigger, refused, previews))
    if output == OutputFormat.json:
        print_json(
            [
                {
                    "application": manifest.application,
                    "environment": name,
                    "commit": rendered.commit.model_dump(),
                    "plan": _plan_json(p, changes),
                    "policy": {
                        "allowed": not d.denied,
                        "deny": d.deny,
                        "warn": d.warn,
                        "approvals_required": required,
                        "engine": d.engine,
                        "bundle_revision": d.bundle_revision,
                        "input_sha256": d.input_sha256,
                        "trigger": trigger,
                        "actor": caller.name if caller and trigger == "manual" else None,
                    },
                    "promotion": {
                        "promote_from": list(a.promote_from),
                        "satisfied": a.denied is None,
                        "reason": a.denied,
                    },
                    "rules_changed": a.rules_changed,
                    "target_limits": {"allowed": not refused, "deny": refused},
                }
                for name, rendered, p, d, required, a, trigger, refused, changes in results
            ]
        )
        if any(r[3].denied or r[7] for r in results):
            raise typer.Exit(1)
        return
    for name, rendered, p, d, required, a, trigger, refused, changes in results:
        console.print(
            f"[bold]{manifest.application}/{name}[/] at {rendered.commit.sha[:12]} "
            f"({rendered.commit.message.splitlines()[0] if rendered.commit.message else ''})",
            highlight=False,
        )
        print_plan(p, title=f"plan for {name}")
        print_changes(p, changes, with_diff=with_diff)
        if a.denied is not None:
            # Not a refusal of the plan: such a commit arrives by promotion once it succeeds there.
            console.print(f"  [yellow]promotion:[/] not yet: {a.denied}", highlight=False)
        if a.rules_changed:
            console.print(
                f"  [yellow]rules:[/] this commit changes {name}'s promote_from or approvals; it "
                "passes the rules in force first, even with nothing to deploy",
                highlight=False,
            )
        if trigger != "manual":
            who = f"a {trigger}"
        else:
            who = f"a manual deployment by {caller.name}" if caller else "an anonymous manual deployment"
        _print_decision(d, required, who)
        if d.denied and trigger == "manual" and caller is None:
            console.print("  (set LOCKSTEP_TOKEN to ask the policy as yourself)", highlight=False)
        for reason in refused:
            console.print(f"  [red]target:[/] {reason}", highlight=False)
    if any(r[3].denied or r[7] for r in results):
        raise typer.Exit(1)


def _plan_json(plan: Plan, previews: Mapping[str, Sequence[ChangeSet]]) -> dict[str, Any]:
    """The plan as a deployment shows it, each component with its change sets (`changes`)."""
    from lockstep.cli.plan_changes import changes_json

    document: dict[str, Any] = plan.model_dump(mode="json")
    for component in document["components"]:
        component["changes"] = changes_json(previews.get(component["name"], []))
    return document


def _decide(
    engine: PolicyEngine,
    application: str,
    environment: str,
    commit: CommitInfo,
    plan: Plan,
    trigger: str,
    caller: User | None,
    governed: bool,
) -> PolicyDecision:
    from lockstep.domain.policy import PolicyDecision
    from lockstep.policy.input import deploy_input, rfc3339

    if not governed:  # nothing would change: a deployment asks no policy either
        return PolicyDecision(
            deny=[], warn=[], approvals_required=0, engine=engine.name, bundle_revision="", input_sha256=""
        )
    now = rfc3339(datetime.now(UTC))
    document = deploy_input(
        application=application,
        environment=environment,
        commit=commit,
        trigger=trigger,
        actor=caller.name if caller and trigger == "manual" else None,
        groups=caller.groups if caller and trigger == "manual" else (),
        plan=plan,
        approvals=[],
        now=now,
    )
    return engine.evaluate_deploy(document)


def _print_decision(decision: PolicyDecision, required: int, who: str) -> None:
    for reason in decision.deny:
        console.print(f"  [red]deny:[/] {reason}", highlight=False)
    for reason in decision.warn:
        console.print(f"  [yellow]warn:[/] {reason}", highlight=False)
    verdict = "[red]denied[/]" if decision.denied else "[green]allowed[/]"
    gate = f", {required} approval(s) required" if required else ", no approval required"
    revision = decision.bundle_revision[:12] or "-"
    console.print(
        f"  policy: {verdict}{gate} (as {who}; {decision.engine}, bundle {revision})",
        highlight=False,
    )
