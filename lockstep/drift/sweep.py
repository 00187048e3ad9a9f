"""One drift sweep of one environment, and what the last sweeps recorded.

`sweep_environment` takes the live revision of every component (the store's last revisions:
commit and deployment), renders that commit for the environment, observes each component's
target and diffs the rendered component against it through the component kind's deliverer,
turns the differences into drift items (`lockstep.drift.items`), decides each (the manifest's
`components[].drift.ignore`, then the policy's `data.lockstep.drift`: `ignore`, `remediate`,
else flag; a failed evaluation flags), and records the sweep with its audit entries
(`drift_detected` for new items, `drift_resolved` for items no longer seen).

`pending` lists the commits on the environment's branch that are not live yet (Git ahead of
live is not drift).

Deliberately does not: start remediation deployments, schedule sweeps, or print. A target that
cannot be read makes the environment `unknown`, never `in_sync`, and resolves none of that
component's items.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from lockstep.delivery.deliverer import Deliverers
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.audit import AuditEntry, AuditKind
from lockstep.domain.drift import (
    DriftDecisionName,
    DriftItem,
    EnvironmentDrift,
    LastDeployment,
    environment_state,
    ignored,
)
from lockstep.domain.errors import LockstepError
from lockstep.domain.models import RenderedComponent
from lockstep.drift.items import Difference, differences, unreachable
from lockstep.manifest.schema import Manifest
from lockstep.policy.engine import PolicyEngine
from lockstep.store import drift as drift_store
from lockstep.store.audit import append_entry
from lockstep.store.deployments import live_deployment
from lockstep.store.engine import Store
from lockstep.store.revisions import last_revisions

Progress = Callable[[str], None]
log = logging.getLogger(__name__)
MAX_PENDING = 50
CLOCK_MARGIN = timedelta(seconds=2)  # how far apart the clocks of workers may be


class LiveMoved(LockstepError):
    """A deployment changed the environment's targets while the sweep read them: the comparison
    is not recorded (the sweep calls the environment `skipped`)."""


def environments_to_sweep(store: Store) -> list[tuple[str, str, str]]:
    """(application, environment, repository) of every environment with a live revision."""
    with store.read_session() as session:
        return drift_store.live_environments(session=session)


def drift_views(
    store: Store, *, application: str | None = None, environment: str | None = None
) -> list[EnvironmentDrift]:
    """What the last sweep of each environment recorded (for `lockstep drift` and `GET /drift`)."""
    with store.read_session() as session:
        return drift_store.drift_views(session=session, application=application, environment=environment)


def sweep_environment(
    *,
    store: Store,
    renderer: CommitRenderer,
    deliverers: Deliverers,
    policy: PolicyEngine,
    application: str,
    environment: str,
    repository: str,
    now: datetime,
    progress: Progress = lambda _m: None,
    since: datetime | None = None,
    still: Callable[[], str | None] | None = None,
) -> EnvironmentDrift:
    """Compare the environment's live revision with its targets and record what differs.
    `since` (when the whole sweep began): the targets may be read as they were at any moment
    since then and since a deployment of the environment last changed anything, so the
    environments of one sweep can share what one read of a cluster answers; None: read now.
    `still`, asked right before recording: why the comparison no longer holds (a deployment
    began or ended meanwhile), or None; then `LiveMoved` is raised and nothing is recorded."""
    with store.read_session() as session:
        revisions = last_revisions(session=session, application=application, environment=environment)
        deployments = drift_store.last_deployments(
            session=session, deployment_ids=[r.deployment_id for r in revisions.values()]
        )
        live = live_deployment(session=session, application=application, environment=environment)
        touched = drift_store.last_touched(session=session, application=application, environment=environment)
    # `touched` is another worker's clock: a margin keeps a listing it might call fresh out.
    as_of = None if since is None else max(since, touched + CLOCK_MARGIN) if touched is not None else since
    stamp = drift_store.iso(now)
    seen: list[DriftItem] = []
    reasons: list[str] = []
    unread: list[str] = []
    ignores = _ignore_patterns(renderer, repository, environment, live[0] if live else None)
    for name, revision in sorted(revisions.items()):
        progress(f"{application}/{environment}: looking at {name}")
        try:
            rendered = renderer.render(repository, revision.commit, environment)
        except Exception as err:  # the revision cannot be rendered: this component is not known
            reasons.append(f"{name}: cannot render {revision.commit[:12]}: {_why(err)}")
            unread.append(name)
            continue
        component = rendered.components.get(name)
        if component is None:  # the commit no longer has it for this environment
            continue
        patterns = ignores.get(name) if ignores is not None else _ignores(rendered.manifest).get(name)
        found, why = _look(deliverers, component, revision.commit, as_of)
        if why:
            reasons.extend(why)
            unread.append(name)
        for difference in found:
            item = _item(
                application,
                environment,
                component,
                difference,
                stamp,
                deployments.get(revision.deployment_id),
            )
            decision = _decide(policy, item, patterns or [], stamp)
            if ignores is None and decision == "remediate":  # the live commit's ignores are unknown
                decision = "flag"
            seen.append(item.model_copy(update={"decision": decision}))
    state = environment_state(seen, reasons)
    reason = "; ".join(reasons) if reasons else None
    # A deployment began or ended while the targets were read: record nothing.
    moved = still() if still is not None else None
    if moved is not None:
        raise LiveMoved(moved)
    with store.session() as session:
        outcome = drift_store.record_sweep(
            session=session,
            application=application,
            environment=environment,
            seen=seen,
            state=state,
            reason=reason,
            pending=_pending(renderer, repository, environment, live[0] if live else None),
            now=now,
            unread=unread,
        )
        for entry in _audit_entries(application, environment, stamp, outcome):
            append_entry(session=session, entry=entry)
        views = drift_store.drift_views(session=session, application=application, environment=environment)
    progress(f"{application}/{environment}: {state}" + (f" ({len(seen)} difference(s))" if seen else ""))
    return views[0]


def _ignore_patterns(
    renderer: CommitRenderer, repository: str, environment: str, live: str | None
) -> dict[str, list[str]] | None:
    """Each component's `drift.ignore` as the environment's live commit says it (a commit that
    only adds an ignore, changing no component, still counts once deployed); None when that
    commit cannot be rendered (each revision's own manifest says it then)."""
    if live is None:
        return None
    try:
        return _ignores(renderer.render(repository, live, environment).manifest)
    except Exception as err:  # the revisions' own manifests say what to ignore; nothing remediates
        log.warning(
            "drift: cannot render the live commit %s for its ignore patterns: %s", live[:12], _why(err)
        )
        return None


def _ignores(manifest: Manifest) -> dict[str, list[str]]:
    return {c.name: list(c.drift.ignore) for c in manifest.components if c.drift is not None}


def _pending(renderer: CommitRenderer, repository: str, environment: str, live: str | None) -> list[str]:
    """Commits on the environment's branch (as the live commit's lockstep.yaml names it) that
    are not live yet, newest first, at most MAX_PENDING. Git ahead of live is not drift; a
    branch that cannot be read now shows none (the sweep is about the targets)."""
    if live is None:
        return []
    try:
        manifest = renderer.render(repository, live, environment).manifest
        branch = next(e.branch for e in manifest.environments if e.name == environment)
        head = renderer.resolve(repository, branch)
        if head == live or renderer.newest(repository, [head, live]) == live:
            return []
        commits, _more = renderer.change_authors(repository, live, head, limit=MAX_PENDING)
    except Exception:  # pending is a courtesy: it never fails a sweep
        return []
    return [sha for sha, _author, _committer in commits]


def _look(
    deliverers: Deliverers, component: RenderedComponent, commit: str, since: datetime | None
) -> tuple[list[Difference], list[str]]:
    """The component's differences, and why any location could not be read."""
    try:
        deliverer = deliverers.for_kind(component.kind)
        live = deliverer.observe(component, since=since)
        change_sets = deliverer.diff(component, live)
    except Exception as err:  # looking must not end the sweep; the environment is unknown instead
        return [], [f"{component.name}: {component.target_name}: could not look: {_why(err)}"]
    why = [f"{component.name}: {u}" for u in unreachable(change_sets, component.target_name)]
    return differences(component.kind, change_sets, live, commit), why


def _item(
    application: str,
    environment: str,
    component: RenderedComponent,
    difference: Difference,
    stamp: str,
    last: LastDeployment | None,
) -> DriftItem:
    return DriftItem(
        application=application,
        environment=environment,
        component=component.name,
        target=component.target_name,
        host=difference.host,
        object=difference.object,
        kind=difference.kind,
        path=difference.path,
        first_seen=stamp,
        last_seen=stamp,
        last_deployment=last,
    )


def _decide(policy: PolicyEngine, item: DriftItem, patterns: Sequence[str], now: str) -> DriftDecisionName:
    """The manifest's ignore patterns first, then the policy; a failed evaluation only flags."""
    if ignored(item, patterns):
        return "ignore"
    policy_input = {
        "application": item.application,
        "environment": item.environment,
        "item": item.model_dump(mode="json", exclude={"decision", "resolved_at", "resolution"}),
        "now": now,
    }
    try:
        decision = policy.evaluate_drift(policy_input)
    except Exception as err:  # fail closed: flag, never remediate; say why where operators look
        log.warning(
            "drift policy failed for %s/%s %s %s, flagged: %s",
            item.application,
            item.environment,
            item.component,
            item.path or item.object,
            _why(err),
        )
        return "flag"
    if decision.ignore:
        return "ignore"
    return "remediate" if decision.remediate else "flag"


def _audit_entries(
    application: str, environment: str, stamp: str, outcome: drift_store.SweepOutcome
) -> list[AuditEntry]:
    """`drift_detected` per new item, `drift_resolved` per item no longer seen."""
    entries = []
    for kind, items in (
        (AuditKind.DRIFT_DETECTED, outcome.new),
        (AuditKind.DRIFT_RESOLVED, outcome.resolved),
    ):
        for item in items:
            where = "/".join((item.component, item.host or item.object, item.path, item.kind))
            entries.append(
                AuditEntry(
                    key=f"drift/{application}/{environment}/{stamp}/{kind.value}/{where}",
                    kind=kind,
                    at=stamp,
                    application=application,
                    environment=environment,
                    deployment_id=item.last_deployment.id if item.last_deployment else None,
                    detail=item.model_dump(mode="json", exclude={"application", "environment"}),
                )
            )
    return entries


def _why(err: BaseException) -> str:
    return str(err) if isinstance(err, LockstepError) else f"{type(err).__name__}: {err}"
