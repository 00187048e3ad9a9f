"""Answering a request with a deployment that has an id from before unambiguous ids.

Deployment ids were `<application>-<environment>-<sha10>[-n]` (`lockstep.domain.ids`). A commit
queued, deployed or failed under such an id before an upgrade must keep the promises Temporal's
id policies made for it: a redelivered push or the next poll answers with that deployment, and
never deploys the commit again; a person asking again after a failure gets a new attempt (under
the new form). Without this, the first poll after an upgrade would deploy every head again.

What it deliberately does not do: read names back out of an id. The older id is computed for the
request's own application, environment and commit, and a record under it counts only if its
columns name exactly those (another pair may have shared the id). A deployment the store never
recorded (it ended before recording anything) is not found: the request then starts a new one.
"""

from __future__ import annotations

from sqlmodel import Session
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from lockstep import search_attributes as sa
from lockstep.domain.ids import legacy_deployment_id
from lockstep.domain.messages import DeploymentRequest
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.deployments import ended_outcome, live_status
from lockstep.store.deployments import count_attempts, get_deployment
from lockstep.store.engine import Store
from lockstep.store.tables import DeploymentRecord

_MAX_ATTEMPTS = 1000  # of one commit under the older ids: a bound on the lookups, never reached


async def older_deployment(
    client: Client, store: Store, request: DeploymentRequest, *, retry_ended: bool
) -> tuple[str, DeploymentStatus] | None:
    """The deployment under an older id that answers `request` (its id and status), or None
    when the request goes on as usual: no such deployment, a deployment of the commit under
    the new form exists already (that one answers), or it ended unsuccessfully and
    `retry_ended` (a new attempt starts)."""
    r = request
    with store.session() as session:
        latest = _latest_attempt(session, r.application, r.environment, r.commit)
        if latest is None or count_attempts(session=session, base=r.deployment_id) > 0:
            return None
        recorded = DeploymentStatus(latest.status)
    if await _exists(client, r.deployment_id):  # started under the new form, not recorded yet
        return None
    try:
        description = await client.get_workflow_handle(latest.id).describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        closed = None
    else:
        if description.status == WorkflowExecutionStatus.RUNNING:
            return latest.id, live_status(description.typed_search_attributes.get(sa.STATUS))
        closed = description.status
    if recorded == DeploymentStatus.SUCCEEDED:
        return latest.id, recorded
    if retry_ended:
        return None
    return latest.id, recorded if recorded.is_final else ended_outcome(closed)[0]


def _latest_attempt(
    session: Session, application: str, environment: str, commit: str
) -> DeploymentRecord | None:
    """The newest recorded attempt of exactly this commit and pair under the older ids (attempts
    were numbered without gaps, so the first missing one ends the search)."""
    latest: DeploymentRecord | None = None
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        record = get_deployment(
            session=session,
            deployment_id=legacy_deployment_id(application, environment, commit, attempt),
        )
        if record is None or (record.application, record.environment, record.commit) != (
            application,
            environment,
            commit,
        ):
            return latest
        latest = record
    return latest


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
