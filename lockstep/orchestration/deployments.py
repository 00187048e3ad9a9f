"""Starting a Deployment workflow: resolve the commit, choose its id, start it once.

A deployment's id is its Temporal workflow id: `<application>-<environment>-<sha10>`. Asking
again for a commit whose deployment runs or succeeded returns that deployment (Temporal's id
conflict policy, not a cache, enforces it); after a deployment of it ended otherwise, a new
attempt gets a `-2`, `-3`, ... suffix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from lockstep.domain.messages import DeploymentRequest, DeploymentTimeouts
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors, safe_url
from lockstep.manifest.loader import environment as manifest_environment
from lockstep.orchestration.applications import find_application
from lockstep.settings import Settings, parse_duration
from lockstep.store.deployments import count_deployments_with_prefix, get_deployment
from lockstep.store.engine import Store
from workflows import search_attributes as sa
from workflows.deployment import DeploymentWorkflow


@dataclass(frozen=True)
class StartedDeployment:
    id: str
    commit: str
    existing: bool


def timeouts_from(settings: Settings) -> DeploymentTimeouts:
    d = settings.deployment
    return DeploymentTimeouts(
        activity_seconds=parse_duration(d.activity_timeout),
        heartbeat_seconds=parse_duration(d.heartbeat_timeout),
        command_seconds=parse_duration(d.command_timeout),
        max_output_bytes=d.max_output_bytes,
    )


def base_deployment_id(application: str, environment: str, sha: str) -> str:
    return f"{application}-{environment}-{sha[:10]}"


def _choose_id(store: Store, base: str) -> str:
    """The latest attempt's id while it runs or if it succeeded (so asking again returns it);
    the next attempt's id once the latest ended any other way."""
    with store.session() as session:
        attempts = count_deployments_with_prefix(session=session, prefix=base)
        latest = base if attempts <= 1 else f"{base}-{attempts}"
        record = get_deployment(session=session, deployment_id=latest)
        if record is None:
            return latest
        status = DeploymentStatus(record.status)
        if status == DeploymentStatus.SUCCEEDED or not status.is_final:
            return latest
        return f"{base}-{attempts + 1}"


async def start_deployment(
    *,
    client: Client,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    application: str,
    environment: str,
    ref: str | None = None,
    trigger: str = "manual",
    actor: str | None = None,
) -> StartedDeployment:
    source = find_application(settings, git, application)
    env = manifest_environment(source.manifest, environment)
    sha = git.resolve(source.repository, ref or env.branch)
    deployment_id = _choose_id(store, base_deployment_id(application, environment, sha))
    request = DeploymentRequest(
        deployment_id=deployment_id,
        application=application,
        environment=environment,
        repository=safe_url(source.repository),  # no credentials in workflow history
        commit=sha,
        trigger=trigger,
        actor=actor,
        timeouts=timeouts_from(settings),
    )
    try:
        handle = await client.start_workflow(
            DeploymentWorkflow.run,
            request,
            id=deployment_id,
            task_queue=settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.APPLICATION, application),
                    SearchAttributePair(sa.ENVIRONMENT, environment),
                    SearchAttributePair(sa.COMMIT, sha),
                    SearchAttributePair(sa.STATUS, DeploymentStatus.QUEUED.value),
                ]
            ),
            execution_timeout=timedelta(days=30),
        )
    except WorkflowAlreadyStartedError:
        return StartedDeployment(id=deployment_id, commit=sha, existing=True)
    # With USE_EXISTING the server answers `started=false` when a run with this id was open.
    response = getattr(handle, "_start_workflow_response", None)
    existing = response is not None and not getattr(response, "started", True)
    return StartedDeployment(id=deployment_id, commit=sha, existing=existing)
