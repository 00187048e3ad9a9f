"""Activities of the Deployment workflow: prepare (check out, render, plan), deploy and roll back
one component. Each converges to a desired state, so a retry after a crash is harmless."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from temporalio import activity

from activities.audit import audit_planned, audit_step
from activities.errors import to_application_error
from activities.heartbeat import run_with_heartbeat
from activities.threads import ActivityThreads
from lockstep.delivery.host import (
    DeliveryLimits,
    HostDelivery,
    deliver_host_component,
    require_every_host,
    rollback_host_component,
)
from lockstep.delivery.kubernetes import (
    KubernetesDelivery,
    deliver_kubernetes_component,
    rollback_kubernetes_component,
)
from lockstep.delivery.rendering import CommitRenderer, RenderedCommit
from lockstep.domain.audit import AuditKind
from lockstep.domain.errors import LockstepError
from lockstep.domain.masking import Masker
from lockstep.domain.messages import (
    ComponentRequest,
    ComponentResult,
    DeploymentRequest,
    PrepareResult,
)
from lockstep.domain.models import RenderedComponent
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import DEPLOY_COMPONENT, PREPARE_DEPLOYMENT, ROLLBACK_COMPONENT
from lockstep.orchestration.admission import admit
from lockstep.planning.plan import make_plan
from lockstep.settings import KubernetesTargetSettings
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.inventory import StoreInventory
from lockstep.store.journal import StoreJournal
from lockstep.store.revisions import last_revisions
from lockstep.targets.host import HostConnection
from lockstep.targets.kubernetes import connect_kubernetes
from lockstep.targets.registry import TargetRegistry

T = TypeVar("T")


def _patience() -> float:
    """How long a rollback keeps trying hosts it cannot reach: half of the activity's
    start-to-close time, which leaves the other half for the work of the last round. Counted on
    the worker's clock from now (rendering before it is short), not from the server's start."""
    budget = activity.info().start_to_close_timeout
    return budget.total_seconds() / 2 if budget is not None else 0.0


class ContentMismatch(LockstepError):
    """The commit renders differently from what was planned (e.g. server config changed)."""


class DeploymentActivities:
    def __init__(
        self,
        *,
        store: Store,
        renderer: CommitRenderer,
        targets: TargetRegistry,
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
        self._users = dict(users or {})  # name -> (groups, email): who may approve where

    @activity.defn(name=PREPARE_DEPLOYMENT)
    async def prepare(self, request: DeploymentRequest) -> PrepareResult:
        """Check out and render the commit, then plan it against what is live."""

        def work(progress: Callable[[str], None], _cancelled: threading.Event) -> PrepareResult:
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
            plan = make_plan(list(rendered.components.values()), live)
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
                e.name for e in rendered.manifest.environments if e.promote_from == request.environment
            ]
            audit_planned(self._store, request, rendered, plan, admission)
            return PrepareResult(
                commit=rendered.commit,
                plan=plan,
                promotions=promotions,
                gate=admission.gate,
                denied=admission.denied or _refused_by_targets(self._targets.refusals(plan)),
                rules_changed=admission.rules_changed,
            )

        return await self._run(work, request.timeouts.heartbeat_seconds)

    @activity.defn(name=DEPLOY_COMPONENT)
    async def deploy_component(self, request: ComponentRequest) -> ComponentResult:
        """Deliver one component onto every host of its target, health verified."""

        def work(progress: Callable[[str], None], cancelled: threading.Event) -> ComponentResult:
            component = self._component(request)
            if component.kind == "kubernetes":
                return self._kubernetes(request, component, progress, cancelled, rollback=False)
            delivery = self._delivery(request, component, progress, cancelled)
            target = component.target_name
            hosts: list[HostConnection] = []
            try:
                # Every host or none; one that cannot be reached gets a failed step saying why
                # (an unknown host key, say), so the deployment shows where it stopped.
                hosts = require_every_host(delivery, self._targets.connect_each(target, interrupt=cancelled))
                done = deliver_host_component(delivery, hosts, self._targets.batch_size(target))
            except BaseException as err:
                self._audit_failure(request, AuditKind.STEP_FINISHED, err)
                raise
            finally:
                for conn in hosts:
                    conn.close()
            audit_step(self._store, request, AuditKind.STEP_FINISHED, "succeeded", done)
            return ComponentResult(component=component.name, hosts=done, changed=True)

        return await self._run(work, request.timeouts.heartbeat_seconds)

    @activity.defn(name=ROLLBACK_COMPONENT)
    async def rollback_component(self, request: ComponentRequest) -> ComponentResult:
        """Put every host this deployment touched back on the release that was live before."""

        def work(progress: Callable[[str], None], cancelled: threading.Event) -> ComponentResult:
            component = self._component(request, verify=False)
            if component.kind == "kubernetes":
                return self._kubernetes(request, component, progress, None, rollback=True)
            target = component.target_name
            try:
                # Not interruptible (a half-done rollback is worse than a slow one): `cancelled`
                # only ends the waiting for hosts that cannot be reached.
                done = rollback_host_component(
                    self._delivery(request, component, progress, None),
                    lambda hosts: self._targets.connect_each(target, hosts),
                    self._deploy_commands_for(request),
                    batch=self._targets.batch_size(target),
                    patience=_patience(),
                    stop=cancelled,
                )
            except BaseException as err:
                self._audit_failure(request, AuditKind.ROLLBACK, err)
                raise
            outcome = "rolled_back" if done.changed else "unchanged"
            audit_step(self._store, request, AuditKind.ROLLBACK, outcome, done.hosts)
            return ComponentResult(
                component=component.name, hosts=done.hosts, changed=done.changed, detail=done.detail
            )

        return await self._run(work, request.timeouts.heartbeat_seconds)

    # -- helpers -------------------------------------------------------------------------------

    def _audit_failure(self, request: ComponentRequest, kind: AuditKind, err: BaseException) -> None:
        audit_step(self._store, request, kind, "failed", [], error=self._masker.mask(str(err)))

    def _kubernetes(
        self,
        request: ComponentRequest,
        component: RenderedComponent,
        progress: Callable[[str], None],
        cancelled: threading.Event | None,
        *,
        rollback: bool,
    ) -> ComponentResult:
        """Deploy or roll back a kubernetes component (lockstep.delivery.kubernetes)."""
        target = self._targets.settings(component.target_name)
        if not isinstance(target, KubernetesTargetSettings):
            raise LockstepError(
                f"{component.name}: target {component.target_name!r} is not a kubernetes target"
            )
        kind = AuditKind.ROLLBACK if rollback else AuditKind.STEP_FINISHED
        cluster = connect_kubernetes(target)
        journal = StoreInventory(
            self._store,
            deployment_id=request.deployment_id,
            application=request.application,
            environment=request.environment,
            component=component.name,
            commit=request.commit,
            masker=self._masker,
        )
        delivery = KubernetesDelivery(
            component,
            cluster,
            journal,
            progress,
            cancelled,
            activity.info().attempt,
            limits=target.limits(component.target_name),
        )
        try:
            if rollback:
                done = rollback_kubernetes_component(delivery, self._previous_objects(request))
            else:
                done = deliver_kubernetes_component(delivery)
        except BaseException as err:
            self._audit_failure(request, kind, err)
            raise
        finally:
            cluster.close()
        outcome = ("rolled_back" if done.changed else "unchanged") if rollback else "succeeded"
        audit_step(self._store, request, kind, outcome, done.objects)
        return ComponentResult(
            component=component.name, hosts=done.objects, changed=done.changed, detail=done.detail
        )

    def _previous_objects(self, request: ComponentRequest) -> tuple[dict[str, object], ...] | None:
        """The objects of the component's last deployed revision, rendered from its commit."""
        with self._store.session() as session:
            live = last_revisions(
                session=session, application=request.application, environment=request.environment
            )
        revision = live.get(request.component)
        if revision is None:
            return None
        previous = self._render(request.repository, revision.commit, request.environment).components
        return previous[request.component].objects if request.component in previous else ()

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

    def _delivery(
        self,
        request: ComponentRequest,
        component: RenderedComponent,
        progress: Callable[[str], None],
        cancelled: threading.Event | None,
    ) -> HostDelivery:
        t = request.timeouts
        return HostDelivery(
            component=component,
            release=request.commit,
            env={
                "LOCKSTEP_APPLICATION": request.application,
                "LOCKSTEP_ENVIRONMENT": request.environment,
                "LOCKSTEP_COMPONENT": request.component,
                "LOCKSTEP_COMMIT": request.commit,
                "LOCKSTEP_DEPLOYMENT": request.deployment_id,
            },
            journal=StoreJournal(
                self._store,
                deployment_id=request.deployment_id,
                component=component.name,
                masker=self._masker,
            ),
            limits=DeliveryLimits(
                command_timeout=t.command_seconds,
                max_output=t.max_output_bytes,
                keep_releases=self._targets.keep_releases(component.target_name),
            ),
            progress=progress,
            cancelled=cancelled,
            attempt=activity.info().attempt,
        )

    def _deploy_commands_for(self, request: ComponentRequest) -> Callable[[str], Sequence[str]]:
        """The deploy commands of the release being switched back to, as that commit defined them."""

        def commands(release: str) -> Sequence[str]:
            previous = self._render(request.repository, release, request.environment)
            component = previous.components.get(request.component)
            return component.deploy_commands if component else ()

        return commands


def _refused_by_targets(refused: list[str]) -> str | None:
    """Why the targets' own limits refuse the plan (ends the deployment `denied` before approvals
    are awaited; the delivery checks again before applying anything), or None."""
    return f"the targets refuse it: {'; '.join(refused)}" if refused else None
