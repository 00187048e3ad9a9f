"""The Deployment workflow end to end: real Temporal, real Git, a real local target, the store.

The issue's acceptance story: first deployment, a change to `api` alone, and a failing health
check on `web` that rolls `api` and `web` back while `db` stays untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import ComponentAction, DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.store.revisions import last_revisions
from tests.support.apprepo import commit, git
from tests.workflows.helpers import current, deploy, record_history, runs

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def _save_history(env: WorkflowEnvironment, deployment_id: str, name: str) -> None:
    """Save a history the replay test reads (LOCKSTEP_RECORD_HISTORIES=1; write-once)."""
    await record_history(env.client.get_workflow_handle(deployment_id), name)


async def test_first_change_and_failed_health(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
) -> None:
    first_sha = git_head(app_repo)
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    assert first.plan.waves == [["db"], ["api"], ["web"]]
    assert {c.name: c.reason for c in first.plan.components} == {
        "db": "first deployment",
        "api": "first deployment",
        "web": "first deployment",
    }
    for component in ("db", "api", "web"):
        assert current(target_root, component) == first_sha
        assert runs(counters, component) == [first_sha]
    assert (target_root / "srv/web/current/index.html").read_text() == "<h1>hello staging</h1>\n"
    assert {(s.component, s.action, s.status) for s in first.steps} >= {
        ("web", "deploy", StepStatus.SUCCEEDED),
        ("web", "health", StepStatus.SUCCEEDED),
    }
    await _save_history(temporal_env, first.id, "deployment-succeeded")

    second_sha = commit(app_repo, {"api/api.conf": "version=2\n"}, "api v2")
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.SUCCEEDED, second.error
    planned = {c.name: c for c in second.plan.components}
    assert set(planned) == {"api", "web"}
    assert planned["api"].action == ComponentAction.UPDATE
    assert planned["api"].reason == f"changed since {first_sha[:7]}"
    assert planned["web"].reason == "depends on api, which changed"
    assert second.plan.unchanged == ["db"]
    # web's files are identical to its live release: delivered as unchanged, neither staged nor
    # switched, but its deploy command runs again (in the live release, with the new commit: the
    # restart its dependency's change asks for); its health is checked.
    assert (current(target_root, "db"), current(target_root, "api"), current(target_root, "web")) == (
        first_sha,
        second_sha,
        first_sha,
    )
    assert runs(counters, "db") == [first_sha]
    assert runs(counters, "api") == [first_sha, second_sha]
    assert runs(counters, "web") == [first_sha, second_sha]
    assert not (target_root / "srv/web/releases" / second_sha).exists()
    web_steps = {s.action: s for s in second.steps if s.component == "web"}
    assert (web_steps["deploy"].output or "").startswith(
        f"unchanged: files identical to the live release {first_sha[:12]}; nothing staged or switched; "
        "deploy commands run in it"
    )
    assert web_steps["health"].status == StepStatus.SUCCEEDED

    third_sha = commit(
        app_repo, {"api/api.conf": "version=3\n", "web/health.sh": "exit 1\n"}, "break web health"
    )
    third = await deploy(temporal_env, settings, store, git)
    assert third.status == DeploymentStatus.ROLLED_BACK
    assert third.error is not None and third.error.startswith("web: ") and "health.sh" in third.error
    assert (current(target_root, "db"), current(target_root, "api"), current(target_root, "web")) == (
        first_sha,
        second_sha,
        first_sha,  # the release web was on: the second deployment left it there
    )
    # Rollback ran the deploy commands of each component's previous live revision again, with
    # its commit: web's is the second deployment's, although its files are the first's release
    # (the second delivered web as unchanged); db was never touched.
    assert runs(counters, "db") == [first_sha]
    assert runs(counters, "api") == [first_sha, second_sha, third_sha, second_sha]
    assert runs(counters, "web") == [first_sha, second_sha, third_sha, second_sha]
    statuses = {(s.component, s.action): s.status for s in third.steps}
    assert statuses[("web", "health")] == StepStatus.FAILED
    [failed] = [s for s in third.steps if s.status == StepStatus.FAILED]
    assert failed.error is not None and failed.output is not None
    assert failed.error == failed.output.splitlines()[0]  # why, apart from the command output
    assert all(s.error is None for s in third.steps if s.status != StepStatus.FAILED)
    assert statuses[("api", "rollback")] == StepStatus.SUCCEEDED
    assert statuses[("web", "rollback")] == StepStatus.SUCCEEDED
    with store.session() as session:
        live = last_revisions(session=session, application="shop", environment="staging")
    assert {name: r.commit for name, r in live.items()} == {
        "db": first_sha,
        "api": second_sha,
        "web": second_sha,
    }
    await _save_history(temporal_env, third.id, "deployment-rolled-back")

    again = await deploy(temporal_env, settings, store, git, ref=second_sha)
    assert again.id == second.id, "deploying a commit that succeeded returns its deployment"


async def test_bad_manifest_fails_before_any_change(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
) -> None:
    commit(app_repo, {"web/index.html": "<h1>{{ colour }}</h1>\n"}, "use an undefined value")
    view = await deploy(temporal_env, settings, store, git)
    assert view.status == DeploymentStatus.FAILED
    assert view.error is not None and "colour" in view.error and "web/index.html" in view.error
    assert not target_root.exists() or not any(target_root.rglob("current"))
    retry = await deploy(temporal_env, settings, store, git)
    assert retry.id == f"{view.id}.2", "a commit whose deployment failed gets a new attempt"
    assert retry.status == DeploymentStatus.FAILED
    third = await deploy(temporal_env, settings, store, git)
    assert third.id == f"{view.id}.3"


async def test_cancellation_rolls_back_what_changed(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED
    first_sha = first.commit
    manifest = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            f"echo $LOCKSTEP_COMMIT >> {counters}/web", f"echo $LOCKSTEP_COMMIT >> {counters}/web; sleep 30"
        )
    )
    # web's files do not change: its (slow) deploy command runs in its live release, unswitched.
    slow_sha = commit(app_repo, {"lockstep.yaml": manifest, "api/api.conf": "version=9\n"}, "slow web")
    from lockstep.orchestration.deployments import start_deployment

    started = await start_deployment(
        client=temporal_env.client,
        settings=settings,
        store=store,
        git=git,
        application="shop",
        environment="staging",
    )
    handle = temporal_env.client.get_workflow_handle(started.id)
    await _wait_for(lambda: len(runs(counters, "web")) == 2)
    await handle.cancel()
    await handle.result()
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    from lockstep.orchestration.views import find_view

    with store.session() as session:
        view = find_view(session, started.id)
    assert view is not None and view.status == DeploymentStatus.CANCELLED
    assert current(target_root, "api") == first_sha  # switched, then rolled back
    assert current(target_root, "web") == first_sha  # never switched
    assert runs(counters, "api") == [first_sha, slow_sha, first_sha]
    # web's slow deploy command was cancelled while it ran in the unswitched release: it changed
    # the host, so the rollback runs the previous revision's command there again.
    assert runs(counters, "web") == [first_sha, slow_sha, first_sha]
    assert (target_root / "srv/api/releases" / slow_sha).is_dir()
    assert not (target_root / "srv/web/releases" / slow_sha).exists()
    steps = {(s.component, s.action): s.status for s in view.steps}
    assert steps[("api", "rollback")] == StepStatus.SUCCEEDED
    assert steps[("web", "rollback")] == StepStatus.SUCCEEDED


async def _wait_for(condition: object, timeout: float = 30.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def git_head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD")
