"""`lockstep deploy|status|list|history`: starting deployments and reading the system of record.

What they print has the secrets this process knows masked (`lockstep.security.known_secrets`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import typer

from lockstep.cli.approvals import api_url, refusal
from lockstep.cli.common import (
    OutputFormat,
    OutputOption,
    console,
    err_console,
    fail,
    handles_errors,
    print_json,
    run_async,
    settings,
)
from lockstep.domain.status import DeploymentStatus

if TYPE_CHECKING:
    import httpx
    from temporalio.client import Client

    from lockstep.domain.lane_messages import Enqueued
    from lockstep.domain.messages import DeploymentView
    from lockstep.settings import Settings
    from lockstep.store.engine import Store

# `status` of a deployment awaiting approval shows the quorum its workflow waits for, if it
# answers this fast; otherwise the store's view, which is complete but for that.
LIVE_GATE_TIMEOUT = timedelta(seconds=5)

EnvOption = typer.Option(..., "--env", "-e", help="environment of the application's lockstep.yaml")


def _existing_store(s: Settings) -> Store:
    """The server's system of record, for the commands that only read it: they must not leave
    an empty database behind where none was."""
    from lockstep.store.engine import Store

    return Store.open_existing(s.database_url)


async def _follow(client: Client, store: Store, deployment_id: str, *, quiet: bool) -> None:
    """Wait until the deployment reaches a final status, printing each status and step change.

    A queued deployment's workflow runs while it waits in its lane (its `status` query says
    `queued`). Deployments queued by a lane of the older, update-driven kind have no workflow
    until their turn: for those the store says `queued` (or `superseded`, which is final).
    """
    import contextlib

    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from lockstep.domain.messages import DeploymentView
    from lockstep.domain.temporal_names import STATUS_QUERY
    from lockstep.orchestration.client import RPC_TIMEOUT
    from lockstep.orchestration.views import find_view

    handle = client.get_workflow_handle(deployment_id)
    seen: dict[str, str] = {}
    while True:
        view: DeploymentView | None = None
        try:
            description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            with store.session() as session:
                view = find_view(session, deployment_id)
            if view is not None and view.status.is_final:
                return
        else:
            if description.status != WorkflowExecutionStatus.RUNNING:
                return
            with contextlib.suppress(Exception):  # the first workflow task may not have run yet
                view = await handle.query(STATUS_QUERY, result_type=DeploymentView, rpc_timeout=RPC_TIMEOUT)
        if view is not None and not quiet:
            _print_changes(view, seen)
        await asyncio.sleep(0.5)


def deploy(
    application: str = typer.Argument(..., help="application name from lockstep.yaml"),
    env: str = EnvOption,
    ref: str | None = typer.Option(None, "--ref", help="branch, tag or commit (default: the env's branch)"),
    wait: bool = typer.Option(False, "--wait", help="return when the deployment reaches a final status"),
    output: OutputFormat = OutputOption,
) -> None:
    """Start a deployment of an application to an environment and print its id.

    With LOCKSTEP_TOKEN set it goes through the API as the token's user; without, straight to
    Temporal as the local user. With --wait it returns when the deployment ends, exit 1 unless
    it succeeded.

    Example: lockstep deploy shop --env staging --wait

    Docs: docs/cli.md#lockstep-deploy
    """
    _deploy(application, env, ref, wait, output)


@handles_errors
def _deploy(application: str, env: str, ref: str | None, wait: bool, output: OutputFormat) -> None:
    def through_api(token: str) -> tuple[Enqueued, str]:
        return _said(_deploy_through_api(token, application, env, ref))

    async def as_local_user(client: Client, s: Settings, store: Store) -> tuple[Enqueued, str]:
        return _said(await _deploy_as_local_user(client, s, store, application, env, ref))

    start_and_follow(application, env, wait, output, through_api=through_api, as_local_user=as_local_user)


def _said(started: Enqueued) -> tuple[Enqueued, str]:
    verb = "already exists" if started.existing else "queued"
    return started, f"deployment {verb} for commit {started.commit[:12]}:"


def start_and_follow(
    application: str,
    env: str,
    wait: bool,
    output: OutputFormat,
    *,
    through_api: Callable[[str], tuple[Enqueued, str]],
    as_local_user: Callable[[Client, Settings, Store], Awaitable[tuple[Enqueued, str]]],
) -> None:
    """Start a deployment (`deploy`, `rollback`) and print its id after the line saying what
    started; with `wait` follow it to a final status, exit 1 unless it succeeded. With
    LOCKSTEP_TOKEN through the API (`through_api`), else straight to Temporal (`as_local_user`)."""
    from lockstep.cli.output import print_view
    from lockstep.domain.messages import DeploymentView

    s = settings()
    token = os.environ.get("LOCKSTEP_TOKEN", "").strip()
    quiet = output == OutputFormat.json
    if token:  # the API decides who the token's user is, records it, and is where to follow it
        started, said = through_api(token)
        _announce(started, said, output)
        view = _follow_through_api(token, started.deployment_id, quiet=quiet, wait=wait)
    else:
        from lockstep.orchestration.client import connect
        from lockstep.orchestration.views import find_view
        from lockstep.security.known_secrets import masker_for
        from lockstep.store.engine import Store

        # As yourself, the deployment is recorded in the database the worker uses (the worker may
        # not have created it yet), and --wait reads it there and asks Temporal how it goes.
        store = Store.from_url(s.database_url)

        async def go() -> Enqueued:
            client = await connect(s.temporal)
            started, said = await as_local_user(client, s, store)
            _announce(started, said, output)
            if wait:
                await _follow(client, store, started.deployment_id, quiet=quiet)
            return started

        started = run_async(go())
        with store.read_session() as session:
            view = find_view(session, started.deployment_id, masker=masker_for(s))
    if output == OutputFormat.json:
        # Not recorded yet (the worker has not prepared it): what is known at start.
        print_json(
            view
            or DeploymentView(
                id=started.deployment_id,
                application=application,
                environment=env,
                commit=started.commit,
                status=DeploymentStatus.QUEUED,
            )
        )
    elif wait and view is not None:
        print_view(view)
    if wait and (view is None or view.status != DeploymentStatus.SUCCEEDED):
        raise typer.Exit(1)


def _announce(started: Enqueued, said: str, output: OutputFormat) -> None:
    if output == OutputFormat.text:
        err_console.print(said, highlight=False)
        console.print(started.deployment_id, highlight=False)


def _follow_through_api(token: str, deployment_id: str, *, quiet: bool, wait: bool) -> DeploymentView | None:
    """The deployment as `GET /deployments/{id}` shows it; with `wait`, polled until it reaches a
    final status, printing each status and step change. None while the API has no record of it."""
    from lockstep.domain.messages import DeploymentView

    seen: dict[str, str] = {}
    while True:
        response = api_call("GET", f"/deployments/{deployment_id}", token)
        view = DeploymentView.model_validate(response.json()) if response.status_code == 200 else None
        if response.status_code not in (200, 404):
            raise fail(refusal(f"reading {deployment_id}", response))
        if view is not None and not quiet:
            _print_changes(view, seen)
        if not wait or (view is not None and view.status.is_final):
            return view
        time.sleep(1.0)


def _print_changes(view: DeploymentView, seen: dict[str, str]) -> None:
    for key, value in [("status", view.status.value)] + [
        (f"step {s.component}", s.status.value) for s in view.steps
    ]:
        if seen.get(key) != value:
            seen[key] = value
            err_console.print(f"  {key}: {value}", highlight=False)


async def _deploy_as_local_user(
    client: Client, s: Settings, store: Store, application: str, env: str, ref: str | None
) -> Enqueued:
    """Without a token: straight to Temporal, as the operating-system user (`cli-local`), which
    names who ran it but proves nothing, so it brings no group to the policy."""
    from lockstep.domain.audit import ActorSource
    from lockstep.gitrepo.mirror import GitMirrors
    from lockstep.orchestration.deployments import resolve_commit
    from lockstep.orchestration.lanes import enqueue_deployment
    from lockstep.orchestration.manual_actions import local_user, record_deploy_request

    repository, sha = resolve_commit(s, GitMirrors(s.mirrors_dir), application, env, ref)
    user = local_user()
    started = await enqueue_deployment(
        client=client,
        settings=s,
        store=store,
        application=application,
        environment=env,
        repository=repository,
        commit=sha,
        trigger="manual",
        actor=user,
        actor_source=ActorSource.CLI_LOCAL.value,
    )
    await asyncio.to_thread(
        record_deploy_request,
        store,
        actor=user,
        actor_source=ActorSource.CLI_LOCAL.value,
        deployment_id=started.deployment_id,
        application=application,
        environment=env,
        ref=ref,
        commit=started.commit,
    )
    return started


def _deploy_through_api(token: str, application: str, env: str, ref: str | None) -> Enqueued:
    """With LOCKSTEP_TOKEN: `POST /deployments` at LOCKSTEP_API_URL, as the token's user."""
    from lockstep.domain.lane_messages import Enqueued

    response = api_call(
        "POST", "/deployments", token, json={"application": application, "environment": env, "ref": ref}
    )
    if response.status_code != 202:
        raise fail(refusal("deploy", response, "docs/api.md#queue-a-deployment"))
    body = response.json()
    return Enqueued(
        deployment_id=body["id"],
        environment=body["environment"],
        commit=body["commit"],
        existing=body["existing"],
    )


def api_call(method: str, path: str, token: str, json: object = None) -> httpx.Response:
    import httpx

    try:
        return httpx.request(
            method, f"{api_url()}{path}", json=json, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        raise fail(
            f"cannot reach the Lockstep API at {api_url()}: {err} (LOCKSTEP_API_URL; with LOCKSTEP_TOKEN "
            "set, deployments go through the API as the token's user: unset it to deploy as yourself; "
            "docs/cli.md#lockstep-deploy)"
        ) from err


def status(
    deployment: str | None = typer.Argument(None, help="deployment id; omit for the latest per environment"),
    output: OutputFormat = OutputOption,
) -> None:
    """Show one deployment (plan, steps, approvals) or the latest deployment of each environment.

    Each deploy or rollback step shows what it changed: counts per action (created, configured,
    unchanged, deleted) and the first 20 changed files or objects; --output json lists them all
    (up to 500 a step).

    Example: lockstep status shop.staging.0d1a26e67d

    Docs: docs/cli.md#lockstep-status
    """
    _status(deployment, output)


@handles_errors
def _status(deployment: str | None, output: OutputFormat) -> None:
    from lockstep.cli.output import print_list, print_view
    from lockstep.orchestration.views import find_view, list_views
    from lockstep.security.known_secrets import masker_for

    s = settings()
    with _existing_store(s).read_session() as session:
        if deployment is None:
            latest: dict[tuple[str, str], DeploymentView] = {}
            for v in list_views(session, limit=1000, with_steps=False, masker=masker_for(s)):
                latest.setdefault((v.application, v.environment), v)
            views = list(latest.values())
            print_json(views) if output == OutputFormat.json else print_list(
                views, title="latest deployments"
            )
            return
        view = find_view(session, deployment, masker=masker_for(s))
    if view is None:
        view = run_async(_query(s, deployment))
    elif view.status == DeploymentStatus.AWAITING_APPROVAL:
        view = run_async(_with_live_gate(s, view))
    if output == OutputFormat.json:
        print_json(view)
    else:
        print_view(view)


async def _with_live_gate(s: Settings, view: DeploymentView) -> DeploymentView:
    """The store's view plus what only the running workflow knows: the quorum it waits for."""
    from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
    from temporalio.service import RPCError

    from lockstep.domain.messages import DeploymentView
    from lockstep.domain.temporal_names import STATUS_QUERY
    from lockstep.orchestration.client import TemporalUnavailable, connect

    try:
        client = await connect(s.temporal)
        live: DeploymentView = await client.get_workflow_handle(view.id).query(
            STATUS_QUERY, result_type=DeploymentView, rpc_timeout=LIVE_GATE_TIMEOUT
        )
    except (TemporalUnavailable, RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
        return view  # Temporal unreachable or the workflow silent: the store's view is what it has
    return view.model_copy(
        update={"approvals_required": live.approvals_required, "policy_warnings": live.policy_warnings}
    )


async def _query(s: Settings, deployment_id: str) -> DeploymentView:
    """A deployment the store does not know (yet): ask its workflow."""
    from pydantic import ValidationError
    from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
    from temporalio.service import RPCError, RPCStatusCode

    from lockstep.domain.ids import is_lane_id
    from lockstep.domain.messages import DeploymentView
    from lockstep.domain.temporal_names import STATUS_QUERY
    from lockstep.orchestration.client import RPC_TIMEOUT, connect

    if is_lane_id(deployment_id):
        raise fail(
            f"{deployment_id!r} is an environment's lane, not a deployment: `lockstep list --env E` "
            "shows its deployments"
        )
    client = await connect(s.temporal)
    try:
        view: DeploymentView = await client.get_workflow_handle(deployment_id).query(
            STATUS_QUERY, result_type=DeploymentView, rpc_timeout=RPC_TIMEOUT
        )
    except ValidationError:  # a workflow of another kind answered
        raise fail(f"no deployment {deployment_id!r}: that workflow is not a deployment") from None
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise fail(f"no deployment {deployment_id!r}") from None
        if err.status == RPCStatusCode.DEADLINE_EXCEEDED:
            raise fail(
                f"the workflow of {deployment_id!r} did not answer within "
                f"{RPC_TIMEOUT.total_seconds():.0f} s: is a worker running?"
            ) from None
        raise
    except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as err:
        raise fail(f"the workflow of {deployment_id!r} did not answer its status query: {err}") from None
    return view


def list_(
    app: str | None = typer.Option(None, "--app", help="only this application"),
    env: str | None = typer.Option(None, "--env", help="only this environment"),
    status_: str | None = typer.Option(None, "--status", help="e.g. deploying, awaiting_approval, failed"),
    output: OutputFormat = OutputOption,
) -> None:
    """List deployments, newest first, filtered by application, environment and status.

    Example: lockstep list --status awaiting_approval

    Docs: docs/cli.md#lockstep-list
    """
    _list(app, env, status_, output)


@handles_errors
def _list(app: str | None, env: str | None, status_: str | None, output: OutputFormat) -> None:
    from lockstep.cli.output import print_list
    from lockstep.orchestration.views import list_views
    from lockstep.security.known_secrets import masker_for

    if status_ is not None and status_ not in {s.value for s in DeploymentStatus}:
        known = ", ".join(s.value for s in DeploymentStatus)
        raise fail(f"unknown status {status_!r} (known: {known})", code=2)
    s = settings()
    with _existing_store(s).read_session() as session:
        views = list_views(session, application=app, environment=env, status=status_, masker=masker_for(s))
    print_json(views) if output == OutputFormat.json else print_list(views)


def history(
    application: str = typer.Argument(..., help="application name from lockstep.yaml"),
    env: str = EnvOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Deployments of one environment, newest first, and the revision live for each component.

    Example: lockstep history shop --env staging

    Docs: docs/cli.md#lockstep-history
    """
    _history(application, env, output)


@handles_errors
def _history(application: str, env: str, output: OutputFormat) -> None:
    from rich.table import Table

    from lockstep.cli.output import print_list, styled
    from lockstep.orchestration.views import list_views
    from lockstep.security.known_secrets import masker_for
    from lockstep.store.revisions import last_revisions

    s = settings()
    with _existing_store(s).read_session() as session:
        views = list_views(session, application=application, environment=env, limit=200, masker=masker_for(s))
        live = last_revisions(session=session, application=application, environment=env)
    if output == OutputFormat.json:
        print_json(
            {
                "application": application,
                "environment": env,
                "live": [r.model_dump() for r in live.values()],
                "deployments": [v.model_dump(mode="json") for v in views],
            }
        )
        return
    table = Table(title=f"{application}/{env}: live revisions", title_justify="left")
    for column in ("component", "commit", "content", "deployment"):
        table.add_column(column)
    for r in live.values():
        table.add_row(r.component, r.commit[:12], r.content_hash[:12], r.deployment_id)
    console.print(table)
    print_list(views, title=f"{application}/{env}: deployments")
    for v in views[:1]:
        console.print(f"latest: {v.id} {styled(v.status)}")
