"""Activities of the Deployment workflow: prepare (check out, render, plan), deploy and roll back
one component. Each converges to a desired state, so a retry after a crash is harmless."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from temporalio import activity

from activities.audit import audit_planned, audit_step, covered
from activities.errors import to_application_error
from activities.heartbeat import run_with_heartbeat
from activities.threads import ActivityThreads
from lockstep.delivery.deliverer import Deliverers, DeliveryContext
from lockstep.delivery.preview import preview_plan, with_changes
from lockstep.delivery.rendering import CommitRenderer, RenderedCommit
from lockstep.domain.audit import AuditKind
from lockstep.domain.changes import ChangeSet, any_changed, summarize, total_counts
from lockstep.domain.errors import ContentMismatch, LockstepError
from lockstep.domain.masking import Masker
from lockstep.domain.messages import (
    ComponentRequest,
    ComponentResult,
    DeploymentRequest,
    PrepareResult,
)
from lockstep.domain.models import RenderedComponent
from lockstep.domain.rollback_target import NON_PROMOTING_TRIGGERS, REMEDIATION_TRIGGER
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import DEPLOY_COMPONENT, PREPARE_DEPLOYMENT, ROLLBACK_COMPONENT
from lockstep.orchestration.admission import admit
from lockstep.orchestration.remediations import stale_remediation
from lockstep.planning.plan import make_plan
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.revisions import last_revisions
from lockstep.store.steps import record_step_changes
from lockstep.targets.registry import TargetRegistry

T = TypeVar("T")


def _patience() -> float:
    """How long a rollback keeps trying hosts it cannot reach: half of the activity's
    start-to-close time, which leaves the other half for the work of the last round. Counted on
    the worker's clock from now (rendering before it is short), not from the server's start."""
    budget = activity.info().start_to_close_timeout
    return budget.total_seconds() / 2 if budget is not None else 0.0


def _preview_seconds() -> float:
    """How long planning looks at what the plan would change on its targets: a quarter of the
    prepare activity's start-to-close time, at most two minutes (a hung host must not use it up)."""
    budget = activity.info().start_to_close_timeout
    return min(_PREVIEW_MAX_SECONDS, budget.total_seconds() / 4) if budget else _PREVIEW_MAX_SECONDS


_PREVIEW_MAX_SECONDS = 120.0


class DeploymentActivities:
    def __init__(
        self,
        *,
        store: Store,
        renderer: CommitRenderer,
        targets: TargetRegistry,
        deliverers: Deliverers,
        threads: ActivityThreads,
        users: Mapping[str, tuple[Sequence[str], str | None]] | None = None,
        masker: Masker | None = None,
    ) -> None:
        self._store = store
        self._threads = threads
        # Known secrets masked in what is stored: step output and the errors the audit keeps.
        self._masker = masker or Masker(())
        self._renderer = renderer
        self._targets = targets
        self._deliverers = deliverers
        self._users = dict(users or {})  # name -> (groups, email): who may approve where

    @activity.defn(name=PREPARE_DEPLOYMENT)
    async def prepare(self, request: DeploymentRequest) -> PrepareResult:
        """Check out and render the commit, plan it against what is live and look at what the plan
        would change on its targets (counts for the policy; looking never fails the plan)."""

        looking = _preview_seconds()

        def work(progress: Callable[[str], None], cancelled: threading.Event) -> PrepareResult:
            self._record_planning(request)
            progress(f"rendering {request.commit[:12]} for {request.environment}")
            rendered = self._render(request.repository, request.commit, request.environment)
            if rendered.manifest.application != request.application:
                raise LockstepError(
                    f"lockstep.yaml: application: the commit declares {rendered.manifest.application!r},"
                    f" not {request.application!r}"
                )
            with self._store.session() as session:
                live = last_revisions(
                    session=session, application=request.application, environment=request.environment
                )
            plan = make_plan(list(rendered.components.values()), live, remediate=request.components)
            progress("looking at what the plan would change on its targets")
            previews = preview_plan(
                self._deliverers,
                plan,
                rendered.components,
                deadline_seconds=looking,
                cancelled=cancelled,
            )
            plan = with_changes(plan, previews)
            admission = admit(
                store=self._store,
                renderer=self._renderer,
                rendered=rendered,
                repository=request.repository,
                application=request.application,
                environment=request.environment,
                users=self._users,
            )
            self._record_planning(
                request,
                commit=rendered.commit.sha,
                plan_json=plan.model_dump_json(),
                commit_timestamp=datetime.fromisoformat(rendered.commit.timestamp),
                rules_json=admission.rules.to_json(),
            )
            promotions = [
                e.name
                for e in rendered.manifest.environments
                if e.promote_from == request.environment and request.trigger not in NON_PROMOTING_TRIGGERS
            ]
            audit_planned(self._store, request, rendered, plan, admission)
            return PrepareResult(
                commit=rendered.commit,
                plan=plan,
                promotions=promotions,
                gate=admission.gate,
                denied=admission.denied
                or _stale(self._store, request)
                or _refused_by_targets(self._targets.refusals(plan)),
                rules_changed=admission.rules_changed,
            )

        return await self._run(work, request.timeouts.heartbeat_seconds)

    @activity.defn(name=DEPLOY_COMPONENT)
    async def deploy_component(self, request: ComponentRequest) -> ComponentResult:
        """Deliver one component onto its target (every host, or the cluster), health verified."""

        def work(progress: Callable[[str], None], cancelled: threading.Event) -> ComponentResult:
            component = self._component(request)
            deliverer = self._deliverers.for_kind(component.kind)
            try:
                changes = deliverer.apply(self._context(request, progress, cancelled), component)
            except BaseException as err:
                self._audit_failure(request, AuditKind.STEP_FINISHED, err)
                raise
            self._record_changes(request, "deploy", changes)
            audit_step(self._store, request, AuditKind.STEP_FINISHED, "succeeded", changes)
            return _result(component.name, changes, changed=any_changed(changes))

        return await self._run(work, request.timeouts.heartbeat_seconds)

    @activity.defn(name=ROLLBACK_COMPONENT)
    async def rollback_component(self, request: ComponentRequest) -> ComponentResult:
        """Put back what this deployment changed of one component, onto the revision live before."""

        def work(progress: Callable[[str], None], cancelled: threading.Event) -> ComponentResult:
            component = self._component(request, verify=False)
            deliverer = self._deliverers.for_kind(component.kind)
            context = self._context(request, progress, cancelled, patience=_patience())
            try:
                changes = deliverer.restore(context, component, lambda: self._previous(request, component))
            except BaseException as err:
                self._audit_failure(request, AuditKind.ROLLBACK, err)
                raise
            self._record_changes(request, "rollback", changes)
            changed = any_changed(changes)
            audit_step(
                self._store, request, AuditKind.ROLLBACK, "rolled_back" if changed else "unchanged", changes
            )
            return _result(component.name, changes, changed=changed)

        return await self._run(work, request.timeouts.heartbeat_seconds)

    # -- helpers -------------------------------------------------------------------------------

    def _record_changes(self, request: ComponentRequest, action: str, changes: list[ChangeSet]) -> None:
        """Each change set onto the step its journal wrote at that location (`lockstep status`)."""
        with self._store.session() as session:
            record_step_changes(
                session=session,
                deployment_id=request.deployment_id,
                component=request.component,
                action=action,
                change_sets=changes,
                masker=self._masker,
            )

    def _audit_failure(self, request: ComponentRequest, kind: AuditKind, err: BaseException) -> None:
        audit_step(self._store, request, kind, "failed", [], error=self._masker.mask(str(err)))

    def _context(
        self,
        request: ComponentRequest,
        progress: Callable[[str], None],
        cancelled: threading.Event | None,
        *,
        patience: float = 0.0,
    ) -> DeliveryContext:
        return DeliveryContext(
            deployment_id=request.deployment_id,
            application=request.application,
            environment=request.environment,
            repository=request.repository,
            commit=request.commit,
            timeouts=request.timeouts,
            progress=progress,
            cancelled=cancelled,
            attempt=activity.info().attempt,
            patience=patience,
            deploy_commands_for=self._deploy_commands_for(request),
            previous_commit=lambda: self._previous_commit(request),
        )

    def _previous_commit(self, request: ComponentRequest) -> str | None:
        """The commit of the component's last deployed revision before this deployment (None:
        there was none). Revisions are recorded once a deployment succeeded, so this one's own
        is not among them while it is rolled back; if it were, it is skipped."""
        with self._store.session() as session:
            live = last_revisions(
                session=session, application=request.application, environment=request.environment
            )
        revision = live.get(request.component)
        if revision is None or revision.deployment_id == request.deployment_id:
            return None
        return revision.commit

    def _previous(self, request: ComponentRequest, component: RenderedComponent) -> RenderedComponent | None:
        """The component as its last deployed revision left it, rendered from that commit (None:
        there was none; no objects or files: that commit did not have the component)."""
        commit = self._previous_commit(request)
        if commit is None:
            return None
        previous = self._render(request.repository, commit, request.environment).components
        if request.component in previous:
            return previous[request.component]
        return dataclasses.replace(component, objects=(), releases=())

    async def _run(
        self, work: Callable[[Callable[[str], None], threading.Event], T], heartbeat_seconds: float
    ) -> T:
        try:
            return await run_with_heartbeat(
                work, threads=self._threads, interval=max(0.5, heartbeat_seconds / 3)
            )
        except LockstepError as err:
            raise to_application_error(err) from err

    def _record_planning(
        self,
        request: DeploymentRequest,
        *,
        commit: str | None = None,
        plan_json: str | None = None,
        commit_timestamp: datetime | None = None,
        rules_json: str | None = None,
    ) -> None:
        with self._store.session() as session:
            upsert_deployment(
                session=session,
                id=request.deployment_id,
                application=request.application,
                environment=request.environment,
                commit=commit or request.commit,
                repository=request.repository,
                trigger=request.trigger,
                actor=request.actor,
                status=DeploymentStatus.PLANNING.value,
                plan_json=plan_json,
                commit_timestamp=commit_timestamp,
                rules_json=rules_json,
            )

    def _render(self, repository: str, sha: str, environment: str) -> RenderedCommit:
        return self._renderer.render(repository, sha, environment)

    def _component(self, request: ComponentRequest, *, verify: bool = True) -> RenderedComponent:
        rendered = self._render(request.repository, request.commit, request.environment)
        component = rendered.components.get(request.component)
        if component is None:
            raise ContentMismatch(f"component {request.component!r} is not in commit {request.commit[:12]}")
        if verify and component.content_hash != request.content_hash:
            raise ContentMismatch(
                f"{component.name}: commit {request.commit[:12]} now renders differently from its plan "
                "(was the server configuration changed?); plan the deployment again"
            )
        return component

    def _deploy_commands_for(self, request: ComponentRequest) -> Callable[[str], tuple[str, ...]]:
        """The component's deploy commands as a commit defined them (a rollback's: the previous
        revision's, or the release's switched back to)."""

        def commands(commit: str) -> tuple[str, ...]:
            previous = self._render(request.repository, commit, request.environment)
            component = previous.components.get(request.component)
            return tuple(component.deploy_commands) if component else ()

        return commands


def _result(name: str, changes: list[ChangeSet], *, changed: bool) -> ComponentResult:
    """What the workflow gets back: per location its counts only (the subjects are on the steps,
    `record_step_changes`), so a result stays small on any fleet: it lands in the workflow's
    history, where a payload may not pass 2 MB."""
    return ComponentResult(
        component=name,
        hosts=covered(changes)[:_RESULT_LOCATIONS],
        changed=changed,
        detail=_detail(changes),
        changes=[
            ChangeSet(location=c.location, unreachable=c.unreachable, totals=c.counts())
            for c in changes[:_RESULT_LOCATIONS]
        ],
    )


_RESULT_LOCATIONS = 1000  # hosts (or objects) a result names; more are counted in its detail
_DETAIL_CHARS = 4000


def _detail(changes: list[ChangeSet]) -> str:
    total = summarize(total_counts(changes))
    shown = "; ".join(f"{c.location + ': ' if c.location else ''}{c.summary()}" for c in changes)
    if len(shown) <= _DETAIL_CHARS:
        return shown
    return f"{len(changes)} locations: {total}"


def _refused_by_targets(refused: list[str]) -> str | None:
    """Why the targets' own limits refuse the plan (ends the deployment `denied` before approvals
    are awaited; the delivery checks again before applying anything), or None."""
    return f"the targets refuse it: {'; '.join(refused)}" if refused else None


def _stale(store: Store, request: DeploymentRequest) -> str | None:
    """A remediation whose commit is no longer live delivers nothing (it ends `denied`, saying why)."""
    if request.trigger != REMEDIATION_TRIGGER:
        return None
    return stale_remediation(store, request.application, request.environment, request.commit)
