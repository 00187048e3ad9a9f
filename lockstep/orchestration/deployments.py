"""Starting a Deployment workflow: resolve the commit, choose its id, start it once.

A deployment's id is its Temporal workflow id: `<application>.<environment>.<sha10>`
(`lockstep.domain.ids`). Asking again for a commit whose deployment runs or succeeded returns that
deployment (Temporal's id conflict policy, not a cache, enforces it); after a deployment of it
ended otherwise, a new attempt gets a `.2`, `.3`, ... suffix, and so does a rollback to a commit
whose deployment succeeded before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from lockstep import search_attributes as sa
from lockstep.domain.errors import LockstepError
from lockstep.domain.ids import attempt_id, deployment_id
from lockstep.domain.messages import DeploymentRequest, DeploymentResult, DeploymentTimeouts
from lockstep.domain.redaction import safe_url
from lockstep.domain.status import DeploymentStatus
from lockstep.domain.temporal_names import APPLICATION_ATTRIBUTE, DEPLOYMENT_WORKFLOW, ENVIRONMENT_ATTRIBUTE
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.manifest.loader import environment as manifest_environment
from lockstep.orchestration.applications import find_application
from lockstep.settings import Settings
from lockstep.store.deployments import count_attempts, get_deployment
from lockstep.store.engine import Store


class DeploymentInProgress(LockstepError):
    """Another deployment of the same environment is still running."""


@dataclass(frozen=True)
class StartedDeployment:
    id: str
    commit: str
    existing: bool


def timeouts_from(settings: Settings) -> DeploymentTimeouts:
    d = settings.deployment
    return DeploymentTimeouts(
        activity_seconds=d.activity_timeout.total_seconds(),
        heartbeat_seconds=d.heartbeat_timeout.total_seconds(),
        command_seconds=d.command_timeout.total_seconds(),
        max_output_bytes=d.max_output_bytes,
        lane_check_seconds=d.lane_check_interval.total_seconds(),
    )


def deployment_search_attributes(
    request: DeploymentRequest, status: DeploymentStatus
) -> TypedSearchAttributes:
    """What the Temporal UI filters deployments by (docs/concepts.md), as a start sets them."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.APPLICATION, request.application),
            SearchAttributePair(sa.ENVIRONMENT, request.environment),
            SearchAttributePair(sa.COMMIT, request.commit),
            SearchAttributePair(sa.STATUS, status.value),
        ]
    )


def base_deployment_id(application: str, environment: str, sha: str) -> str:
    """The id of the first deployment of `sha` to the environment (later attempts: `attempt_id`)."""
    return deployment_id(application, environment, sha)


async def choose_deployment_id(
    client: Client, store: Store, base: str, *, retry_ended: bool = True, again_after_success: bool = False
) -> tuple[str, DeploymentStatus | None]:
    """The id for a deployment of `base`'s commit, and the status it has if it exists already.

    The latest attempt's id while it runs (with the status it has now) or if it succeeded
    (SUCCEEDED), so asking again returns it. Once it ended any other way: the next attempt's id
    (None) when `retry_ended` (someone asked for this commit again), else the ended attempt and
    its final status, so an automatic trigger (a redelivered webhook, the next poll) never starts
    a commit again. `again_after_success` (a rollback to this commit, which newer deployments
    replaced since it succeeded) treats a success as ended too: the next attempt's id. Temporal
    says whether an id runs or exists: the store may not know an attempt that ended before it
    recorded anything.
    """
    with store.session() as session:
        attempt = max(1, count_attempts(session=session, base=base))
    ended: tuple[str, DeploymentStatus] | None = None  # the latest unsuccessful attempt seen
    while True:
        candidate = attempt_id(base, attempt)
        try:
            description = await client.get_workflow_handle(candidate).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return ended if ended is not None and not retry_ended else (candidate, None)
            raise
        if description.status == WorkflowExecutionStatus.RUNNING:
            return candidate, live_status(description.typed_search_attributes.get(sa.STATUS))
        with store.session() as session:
            record = get_deployment(session=session, deployment_id=candidate)
        recorded = DeploymentStatus(record.status) if record is not None else None
        if recorded == DeploymentStatus.SUCCEEDED and not again_after_success:
            return candidate, DeploymentStatus.SUCCEEDED
        ended = candidate, recorded or ended_outcome(description.status)[0]
        attempt += 1


def ended_outcome(status: WorkflowExecutionStatus | None) -> tuple[DeploymentStatus, str]:
    """The final status and reason of a deployment whose workflow closed without recording one.

    Terminated (e.g. from the Temporal UI) or timed out, it stopped wherever it was, with no
    compensation: `failed`, never `cancelled`, which promises that what changed was put back.
    """
    if status == WorkflowExecutionStatus.CANCELED:
        return DeploymentStatus.CANCELLED, "its workflow was cancelled before it recorded an outcome"
    if status == WorkflowExecutionStatus.TERMINATED:
        return DeploymentStatus.FAILED, (
            "its workflow was terminated in Temporal: whatever step was running stopped where it "
            "was, and nothing was rolled back"
        )
    if status == WorkflowExecutionStatus.TIMED_OUT:
        return DeploymentStatus.FAILED, "its workflow timed out in Temporal; nothing was rolled back"
    if status is None:
        return DeploymentStatus.FAILED, "its workflow no longer exists in Temporal"
    return DeploymentStatus.FAILED, f"its workflow ended ({status.name.lower()}) without recording an outcome"


def live_status(recorded: str | None) -> DeploymentStatus:
    """A running deployment's status as its `LockstepStatus` says (queued, planning, awaiting
    approval, deploying, rolling back); `deploying` for one started without it."""
    try:
        return DeploymentStatus(recorded) if recorded else DeploymentStatus.DEPLOYING
    except ValueError:
        return DeploymentStatus.DEPLOYING


async def _running_deployment(client: Client, application: str, environment: str) -> str | None:
    """A deployment of this environment still running, per Temporal's visibility."""
    query = (
        f'{APPLICATION_ATTRIBUTE} = "{application}" AND {ENVIRONMENT_ATTRIBUTE} = "{environment}" '
        'AND ExecutionStatus = "Running"'
    )
    async for execution in client.list_workflows(query, limit=1):
        return execution.id
    return None


def resolve_commit(
    settings: Settings, git: GitMirrors, application: str, environment: str, ref: str | None
) -> tuple[str, str]:
    """The configured repository of `application` and the full sha `ref` names (default: the
    environment's branch), fetched fresh."""
    source = find_application(settings, git, application)
    env = manifest_environment(source.manifest, environment)
    return source.repository, git.resolve(source.repository, ref or env.branch)


async def start_deployment(  # one Deployment workflow, no lane: for tests and benchmarks
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
    actor_source: str = "",
) -> StartedDeployment:
    repository, sha = resolve_commit(settings, git, application, environment, ref)
    deployment_id, _ = await choose_deployment_id(
        client, store, base_deployment_id(application, environment, sha)
    )
    running = await _running_deployment(client, application, environment)
    if running is not None and running != deployment_id:
        # Environment lanes will queue deployments; until then two never interleave.
        raise DeploymentInProgress(
            f"{application}/{environment} has a deployment in progress ({running}); "
            "wait for it to finish or cancel it, then deploy again"
        )
    request = DeploymentRequest(
        deployment_id=deployment_id,
        application=application,
        environment=environment,
        repository=safe_url(repository),  # no credentials in workflow history
        commit=sha,
        trigger=trigger,
        actor=actor,
        actor_source=actor_source,
        timeouts=timeouts_from(settings),
    )
    try:
        handle = await client.start_workflow(
            DEPLOYMENT_WORKFLOW,
            request,
            result_type=DeploymentResult,
            id=deployment_id,
            task_queue=settings.temporal.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=deployment_search_attributes(request, DeploymentStatus.QUEUED),
            execution_timeout=timedelta(days=30),
        )
    except WorkflowAlreadyStartedError:
        return StartedDeployment(id=deployment_id, commit=sha, existing=True)
    # With USE_EXISTING the server answers `started=false` when a run with this id was open.
    response = getattr(handle, "_start_workflow_response", None)
    existing = response is not None and not getattr(response, "started", True)
    return StartedDeployment(id=deployment_id, commit=sha, existing=existing)
