"""Deployments from before unambiguous ids keep answering requests for their commit (real Temporal
server and store, no worker: what matters is what enqueueing answers and starts).

A deployment from before is made the way it was: a store row under `<app>-<env>-<sha10>[-n]`,
and for a running one a Deployment workflow under that id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.ids import deployment_id, legacy_deployment_id
from lockstep.domain.lane_messages import Enqueued
from lockstep.domain.messages import DeploymentRequest
from lockstep.domain.status import DeploymentStatus
from lockstep.orchestration.deployments import timeouts_from
from lockstep.orchestration.lanes import enqueue_deployment, start_queued
from lockstep.settings import Settings
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from tests.support.fixtures import terminate_running
from tests.support.gated_apps import unique, workflow_status

pytestmark = [pytest.mark.temporal, pytest.mark.store]
SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
REPOSITORY = "https://git.example.com/shop.git"


@pytest_asyncio.fixture
async def cleanup(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    yield
    await terminate_running(temporal_env, settings.temporal.task_queue)


def _recorded(
    store: Store, workflow_id: str, application: str, environment: str, status: DeploymentStatus
) -> None:
    with store.session() as session:
        upsert_deployment(
            session=session,
            id=workflow_id,
            application=application,
            environment=environment,
            commit=SHA,
            repository=REPOSITORY,
            trigger="webhook",
            actor="octocat",
            status=status.value,
        )


async def _enqueue(
    env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    application: str,
    environment: str,
    trigger: str,
) -> Enqueued:
    return await enqueue_deployment(
        client=env.client,
        settings=settings,
        store=store,
        application=application,
        environment=environment,
        repository=REPOSITORY,
        commit=SHA,
        trigger=trigger,
        actor="octocat",
    )


async def test_an_older_failed_deployment_answers_a_redelivery_and_a_person_gets_a_new_attempt(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, cleanup: None
) -> None:
    app = unique("shop")
    _recorded(store, legacy_deployment_id(app, "staging", SHA), app, "staging", DeploymentStatus.FAILED)
    _recorded(
        store, legacy_deployment_id(app, "staging", SHA, 2), app, "staging", DeploymentStatus.ROLLED_BACK
    )
    for trigger in ("webhook", "poll"):
        again = await _enqueue(temporal_env, settings, store, app, "staging", trigger)
        assert (again.deployment_id, again.existing, again.status) == (
            legacy_deployment_id(app, "staging", SHA, 2),  # the newest attempt
            True,
            DeploymentStatus.ROLLED_BACK,
        )
    assert await workflow_status(temporal_env, deployment_id(app, "staging", SHA)) is None  # nothing started
    retried = await _enqueue(temporal_env, settings, store, app, "staging", "manual")
    assert (retried.deployment_id, retried.existing) == (deployment_id(app, "staging", SHA), False)
    # From now on the new form answers, even for a redelivery.
    again = await _enqueue(temporal_env, settings, store, app, "staging", "webhook")
    assert (again.deployment_id, again.existing) == (retried.deployment_id, True)


async def test_an_older_running_or_successful_deployment_answers_everyone(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, cleanup: None
) -> None:
    queued, done = unique("shop"), unique("shop")
    older = DeploymentRequest(
        deployment_id=legacy_deployment_id(queued, "staging", SHA),
        application=queued,
        environment="staging",
        repository=REPOSITORY,
        commit=SHA,
        timeouts=timeouts_from(settings),
        lane=True,
    )
    assert await start_queued(temporal_env.client, settings, older)  # no worker: it stays queued
    _recorded(store, older.deployment_id, queued, "staging", DeploymentStatus.QUEUED)
    _recorded(store, legacy_deployment_id(done, "staging", SHA), done, "staging", DeploymentStatus.SUCCEEDED)
    for trigger in ("webhook", "manual"):
        running = await _enqueue(temporal_env, settings, store, queued, "staging", trigger)
        assert (running.deployment_id, running.existing, running.status) == (
            older.deployment_id,
            True,
            DeploymentStatus.QUEUED,
        )
        succeeded = await _enqueue(temporal_env, settings, store, done, "staging", trigger)
        assert (succeeded.deployment_id, succeeded.existing, succeeded.status) == (
            legacy_deployment_id(done, "staging", SHA),
            True,
            DeploymentStatus.SUCCEEDED,
        )
    for app in (queued, done):
        assert await workflow_status(temporal_env, deployment_id(app, "staging", SHA)) is None


async def test_an_older_id_another_pair_shared_answers_only_that_pair(
    temporal_env: WorkflowEnvironment, settings: Settings, store: Store, cleanup: None
) -> None:
    """`<app>-eu`/`prod` and `<app>`/`eu-prod` had one id for a commit: the record names which
    pair it was, and the other pair's request starts its own deployment."""
    app = unique("shop")
    shared = legacy_deployment_id(f"{app}-eu", "prod", SHA)
    assert shared == legacy_deployment_id(app, "eu-prod", SHA)
    _recorded(store, shared, f"{app}-eu", "prod", DeploymentStatus.SUCCEEDED)
    mine = await _enqueue(temporal_env, settings, store, app, "eu-prod", "webhook")
    assert (mine.deployment_id, mine.existing) == (deployment_id(app, "eu-prod", SHA), False)
    theirs = await _enqueue(temporal_env, settings, store, f"{app}-eu", "prod", "webhook")
    assert (theirs.deployment_id, theirs.existing, theirs.status) == (
        shared,
        True,
        DeploymentStatus.SUCCEEDED,
    )
