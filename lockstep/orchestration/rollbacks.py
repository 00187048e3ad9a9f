"""Preparing a rollback on demand: which commit goes back, and whether it can (docs/concepts.md).

`lockstep rollback` and `POST /applications/{app}/environments/{env}/rollback` both ask
`prepare_rollback`, then enqueue the commit with trigger `rollback` through the environment's
lane (`lockstep.orchestration.lanes.enqueue_deployment`), so it is planned, governed (policy,
approvals, promote_from) and delivered like any deployment.

It reads the configured repository (the application must be declared there, with the
environment), the store's history of the environment (`lockstep.domain.rollback_target` picks the
deployment to go back to), and renders that deployment's commit for the environment as a
deployment would: a commit that can no longer be rendered (an environment or target renamed or
removed since, the commit gone from the repository) is refused before anything starts. When that
commit's plan over what is live is empty, there is nothing to roll back.

Deliberately does not: enqueue or audit (callers do, each as its own actor), or decide anything
a deployment decides (what to deploy, who must approve).
"""

from __future__ import annotations

from dataclasses import dataclass

from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.errors import ConfigError, CycleError, GitError, LockstepError, ManifestError
from lockstep.domain.rollback_target import PastDeployment, RollbackRefused, rollback_target
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.manifest.loader import environment as manifest_environment
from lockstep.orchestration.applications import find_application
from lockstep.planning.plan import make_plan
from lockstep.settings import Settings
from lockstep.store.deployments import get_deployment, list_deployments
from lockstep.store.engine import Store
from lockstep.store.revisions import last_revisions
from lockstep.store.tables import DeploymentRecord
from lockstep.targets.registry import TargetRegistry

HISTORY_LOOKED_AT = 1000  # successful deployments of the environment looked through for the default


class UnknownEnvironment(LockstepError):
    """No configured repository declares the application, or its lockstep.yaml has no such
    environment: there is nothing to roll back there."""


@dataclass(frozen=True)
class RollbackOrder:
    """What a rollback deploys: `commit` of `repository` (the configured URL), what deployment `to`
    left live. `nothing_to_roll_back` when that is what is live already (deployment `live`)."""

    application: str
    environment: str
    repository: str
    commit: str
    to: str
    live: str
    live_commit: str
    nothing_to_roll_back: bool


def prepare_rollback(
    settings: Settings, git: GitMirrors, store: Store, application: str, environment: str, to: str | None
) -> RollbackOrder:
    """The rollback of (application, environment) to deployment `to` (default: the successful
    deployment before the live one). Raises `UnknownEnvironment`, `RollbackRefused` naming why, or
    a retryable `GitError` when Git cannot be reached."""
    try:
        manifest_environment(find_application(settings, git, application).manifest, environment)
    except (ConfigError, ManifestError) as err:
        raise UnknownEnvironment(str(err)) from None
    with store.read_session() as session:
        records = list_deployments(
            session=session,
            application=application,
            environment=environment,
            status=DeploymentStatus.SUCCEEDED.value,
            limit=HISTORY_LOOKED_AT,
        )
        named = get_deployment(session=session, deployment_id=to) if to is not None else None
        live_revisions = last_revisions(session=session, application=application, environment=environment)
    # The live deployment is the latest to succeed (as `live_deployment` says), not the latest made.
    records.sort(key=lambda r: (r.finished_at or r.created_at, r.id), reverse=True)
    target = rollback_target(
        application=application,
        environment=environment,
        succeeded=[_past(r) for r in records],
        named=_past(named) if named is not None else None,
        to=to,
    )
    record = named if named is not None else next(r for r in records if r.id == target.to.id)
    targets = TargetRegistry(settings.targets)
    renderer = CommitRenderer(
        git,
        targets.types(),
        target_namespaces=targets.namespaces(),
        repositories=[r.url for r in settings.repositories],
        configured_only=True,
    )
    try:
        repository = renderer.git_url(record.repository)
        rendered = renderer.render(record.repository, record.commit, environment)
        plan = make_plan(list(rendered.components.values()), live_revisions)
    except GitError as err:
        if err.retryable:
            raise
        raise _unrenderable(record, environment, err) from None
    except (ConfigError, ManifestError, CycleError) as err:
        raise _unrenderable(record, environment, err) from None
    return RollbackOrder(
        application=application,
        environment=environment,
        repository=repository,
        commit=record.commit,
        to=record.id,
        live=target.live.id,
        live_commit=target.live.commit,
        nothing_to_roll_back=plan.is_empty,
    )


def _past(record: DeploymentRecord) -> PastDeployment:
    return PastDeployment(
        id=record.id,
        application=record.application,
        environment=record.environment,
        commit=record.commit,
        status=DeploymentStatus(record.status),
    )


def _unrenderable(record: DeploymentRecord, environment: str, err: LockstepError) -> RollbackRefused:
    return RollbackRefused(
        f"{record.id} cannot be rolled back to: its commit {record.commit[:12]} can no longer be "
        f"rendered for {environment}: {err}"
    )
