"""`lockstep rollback`: put an environment back on what a deployment left live.

A deployment with trigger `rollback` of that deployment's commit, through the environment's lane
and under its policy and approvals (`lockstep.orchestration.rollbacks`); started and followed as
`lockstep deploy` is (`lockstep.cli.deployments.start_and_follow`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

from lockstep.cli.common import OutputFormat, OutputOption, fail, handles_errors
from lockstep.cli.deployments import EnvOption, start_and_follow

if TYPE_CHECKING:
    from temporalio.client import Client

    from lockstep.domain.lane_messages import Enqueued
    from lockstep.settings import Settings
    from lockstep.store.engine import Store


def rollback(
    application: str = typer.Argument(..., help="application name from lockstep.yaml"),
    env: str = EnvOption,
    to: str | None = typer.Option(
        None, "--to", help="deployment id to go back to (default: the successful one before the live one)"
    ),
    wait: bool = typer.Option(False, "--wait", help="return when the rollback reaches a final status"),
    output: OutputFormat = OutputOption,
) -> None:
    """Put an environment back on what a deployment left live, and print the rollback's id.

    The rollback is a deployment of that deployment's commit with trigger rollback, through the
    environment's lane, under its policy and approvals. Default: the successful deployment before
    the live one. Refused when that deployment did not succeed or its commit can no longer be
    rendered; nothing starts when what it left is live already. With --wait it returns when the
    rollback ends, exit 1 unless it succeeded.

    Example: lockstep rollback shop --env staging --wait

    Docs: docs/cli.md#lockstep-rollback
    """
    _rollback(application, env, to, wait, output)


@handles_errors
def _rollback(application: str, env: str, to: str | None, wait: bool, output: OutputFormat) -> None:
    def through_api(token: str) -> tuple[Enqueued, str]:
        return _rollback_through_api(token, application, env, to)

    async def as_local_user(client: Client, s: Settings, store: Store) -> tuple[Enqueued, str]:
        return await _rollback_as_local_user(client, s, store, application, env, to)

    start_and_follow(application, env, wait, output, through_api=through_api, as_local_user=as_local_user)


def _said(*, nothing: bool, existing: bool, commit: str, to: str, application: str, env: str) -> str:
    if nothing:
        return (
            f"nothing to roll back: {application}/{env} runs what {to} left live already "
            f"(commit {commit[:12]}); the live deployment:"
        )
    verb = "already queued" if existing else "queued"
    return f"rollback {verb} to {to} (commit {commit[:12]}):"


async def _rollback_as_local_user(
    client: Client, s: Settings, store: Store, application: str, env: str, to: str | None
) -> tuple[Enqueued, str]:
    """Without a token: straight to Temporal, as the operating-system user (`cli-local`)."""
    from lockstep.domain.audit import ActorSource
    from lockstep.domain.lane_messages import Enqueued
    from lockstep.domain.rollback_target import ROLLBACK_TRIGGER
    from lockstep.domain.status import DeploymentStatus
    from lockstep.gitrepo.mirror import GitMirrors
    from lockstep.orchestration.lanes import enqueue_deployment
    from lockstep.orchestration.manual_actions import local_user, record_rollback_request
    from lockstep.orchestration.rollbacks import prepare_rollback

    order = await asyncio.to_thread(
        prepare_rollback, s, GitMirrors(s.mirrors_dir), store, application, env, to
    )
    if order.nothing_to_roll_back:
        live = Enqueued(
            deployment_id=order.live,
            environment=env,
            commit=order.live_commit,
            existing=True,
            status=DeploymentStatus.SUCCEEDED,
        )
        return live, _said(
            nothing=True, existing=True, commit=order.commit, to=order.to, application=application, env=env
        )
    user = local_user()
    started = await enqueue_deployment(
        client=client,
        settings=s,
        store=store,
        application=application,
        environment=env,
        repository=order.repository,
        commit=order.commit,
        trigger=ROLLBACK_TRIGGER,
        actor=user,
        actor_source=ActorSource.CLI_LOCAL.value,
    )
    await asyncio.to_thread(
        record_rollback_request,
        store,
        actor=user,
        actor_source=ActorSource.CLI_LOCAL.value,
        deployment_id=started.deployment_id,
        application=application,
        environment=env,
        to=order.to,
        commit=started.commit,
    )
    said = _said(
        nothing=False,
        existing=started.existing,
        commit=started.commit,
        to=order.to,
        application=application,
        env=env,
    )
    return started, said


def _rollback_through_api(token: str, application: str, env: str, to: str | None) -> tuple[Enqueued, str]:
    """With LOCKSTEP_TOKEN: `POST /applications/{app}/environments/{env}/rollback`, as the token's user."""
    from urllib.parse import quote

    from lockstep.cli.approvals import refusal
    from lockstep.cli.deployments import api_call
    from lockstep.domain.lane_messages import Enqueued

    path = f"/applications/{quote(application, safe='')}/environments/{quote(env, safe='')}/rollback"
    response = api_call("POST", path, token, json={"to": to} if to else None)
    if response.status_code != 202:
        raise fail(refusal("rollback", response, "docs/api.md#roll-back-an-environment"))
    body = response.json()
    started = Enqueued(
        deployment_id=body["id"],
        environment=body["environment"],
        commit=body["commit"],
        existing=body["existing"],
    )
    said = _said(
        nothing=body["nothing_to_roll_back"],
        existing=body["existing"],
        commit=body["commit"],
        to=body["to"],
        application=application,
        env=env,
    )
    return started, said
