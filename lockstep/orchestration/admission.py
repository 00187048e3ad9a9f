"""What a deployment must satisfy before it may plan a change: `promote_from` and its approval gate.

Owns gathering the facts those rules need — the revision live in the environment (from the
store), that revision's own `lockstep.yaml` (the rules in force), where this exact commit has
succeeded, and who wrote or committed each commit the deployment brings live (from Git) — and
applying the pure rules of `lockstep.domain.rules_in_force` and `lockstep.domain.approvals`.

Every trigger reaches the same check, because it runs inside the deployment (the prepare
activity), not in whatever started it: a manual deployment, the API, a webhook, a promotion, a
rollback and a remediation alike. Deliberately does not: evaluate policy (the governance stage
does, after this), or decide what to deploy (`lockstep.planning`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lockstep.delivery.rendering import CommitRenderer, RenderedCommit
from lockstep.domain.approvals import ApprovalGate, change_authors, eligible_approvers
from lockstep.domain.errors import GitError, LockstepError
from lockstep.domain.rules_in_force import (
    EnvironmentRules,
    approvals_in_force,
    promotion_refusal,
    promotion_sources,
)
from lockstep.manifest.loader import environment as find_environment
from lockstep.manifest.loader import load_manifest
from lockstep.manifest.schema import Manifest
from lockstep.store.deployments import live_deployment, succeeded_environments
from lockstep.store.engine import Store

# A first deployment brings every commit reachable from its head live; past this many, the
# oldest are not checked for authorship (and the gate says so). Later deployments bring only
# the commits since the live revision, normally far fewer.
MAX_CHANGE_COMMITS = 1000


@dataclass(frozen=True)
class Admission:
    gate: ApprovalGate
    denied: str | None  # why the deployment may not proceed (promote_from not met), or None
    promote_from: tuple[str, ...] = ()  # environments the commit must have succeeded in
    rules: EnvironmentRules = field(default_factory=EnvironmentRules)  # the commit's own, kept with it
    rules_changed: bool = False  # it changes the rules in force: governed even with nothing to deploy


def rules_of(manifest: Manifest, environment: str) -> EnvironmentRules | None:
    """The rules `manifest` sets for `environment`; None when it does not declare it."""
    spec = next((e for e in manifest.environments if e.name == environment), None)
    if spec is None:
        return None
    approvals = spec.approvals
    return EnvironmentRules(
        promote_from=spec.promote_from,
        approvals_required=approvals.required if approvals else 0,
        approver_groups=tuple(approvals.groups) if approvals else (),
        approvals_declared=approvals is not None,
    )


def admit(
    *,
    store: Store,
    renderer: CommitRenderer,
    rendered: RenderedCommit,
    repository: str,
    application: str,
    environment: str,
    users: Mapping[str, tuple[Sequence[str], str | None]],
) -> Admission:
    """The approval gate and the promotion verdict for deploying `rendered` to `environment`."""
    sha = rendered.commit.sha
    deployed = rules_of(rendered.manifest, environment) or EnvironmentRules()
    with store.session() as session:
        live_row = live_deployment(session=session, application=application, environment=environment)
    live_sha = live_row[0] if live_row else None
    try:
        live = _rules_in_force(renderer, repository, live_row, environment)
    except UnreadableRules as unreadable:  # fail closed: never relax rules nobody can read
        return Admission(gate=ApprovalGate(), denied=str(unreadable), rules=deployed)
    sources = promotion_sources(deployed, live)
    with store.session() as session:
        succeeded = succeeded_environments(
            session=session, application=application, commit=sha, environments=list(sources)
        )
    denied = promotion_refusal(
        environment=environment,
        commit=sha,
        sources=sources,
        succeeded_in=succeeded,
        declared={e.name for e in rendered.manifest.environments},
    )
    required, groups = approvals_in_force(deployed, live)
    spec = find_environment(rendered.manifest, environment).approvals
    commits, truncated = renderer.change_authors(repository, live_sha, sha, limit=MAX_CHANGE_COMMITS)
    note = ""
    if truncated:
        since = f"since {live_sha[:12]}" if live_sha else "reachable from it (a first deployment)"
        note = f"only the newest {MAX_CHANGE_COMMITS} commits {since} were checked for authors"
    return Admission(
        gate=ApprovalGate(
            required=required,
            groups=list(groups),
            timeout_seconds=spec.timeout_seconds if spec else ApprovalGate().timeout_seconds,
            approvers=eligible_approvers(groups, users),
            author_email=rendered.commit.author_email,
            configured=sorted(users),
            authors=change_authors(commits),
            authors_note=note,
        ),
        denied=denied,
        promote_from=tuple(sources),
        rules=deployed,
        rules_changed=live is not None and live != deployed,
    )


class UnreadableRules(LockstepError):
    """The rules in force in an environment cannot be read."""


def _rules_in_force(
    renderer: CommitRenderer, repository: str, live: tuple[str, str | None] | None, environment: str
) -> EnvironmentRules | None:
    """The rules the live revision set: the snapshot its deployment kept, or for a deployment
    recorded before snapshots existed, its commit's lockstep.yaml. None when nothing is live."""
    if live is None:
        return None
    live_sha, snapshot = live
    if snapshot is not None:
        return EnvironmentRules.from_json(snapshot)
    try:
        manifest = load_manifest(renderer.tree(repository, live_sha))
    except (GitError, LockstepError) as err:
        raise UnreadableRules(
            f"the rules in force in {environment} cannot be read: its live revision {live_sha[:12]} "
            f"was deployed before Lockstep kept them, and its lockstep.yaml is unreadable now ({err}); "
            "Lockstep will not relax rules it cannot read: restore that commit in the repository"
        ) from err
    return rules_of(manifest, environment) or EnvironmentRules()
