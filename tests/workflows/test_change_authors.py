"""No author or committer of any commit a deployment brings live may approve it (docs/approvals.md).

The change is every commit between the revision live in the environment and the deployed one
(on a first deployment, every commit reachable). An approver who wrote an earlier commit of the
range, under a later commit by someone else, is refused, naming their commit; once their commit
is live, their approval of a later change counts. A committer is an author too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.approvals import ApprovalAnswer, ApprovalInput
from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.workflows.helpers import current, record_history
from tests.workflows.test_approvals import _awaiting, _with_environment

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def _commit_as(repo: Path, files: dict[str, str], message: str, *, author: str, committer: str) -> str:
    """A commit whose author and committer are the given emails (not the test default)."""
    for name, content in files.items():
        (repo / name).write_text(content)
    env = {
        "GIT_AUTHOR_NAME": author.split("@")[0],
        "GIT_AUTHOR_EMAIL": author,
        "GIT_COMMITTER_NAME": committer.split("@")[0],
        "GIT_COMMITTER_EMAIL": committer,
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", message], check=True, env=env)
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


async def _start(
    env: WorkflowEnvironment, settings: Settings, store: Store, git: GitMirrors
) -> WorkflowHandle[object, DeploymentResult]:
    started = await start_deployment(
        client=env.client, settings=settings, store=store, git=git, application="shop", environment="uat",
    )  # fmt: skip
    return env.client.get_workflow_handle(started.id, result_type=DeploymentResult)


async def _decide(handle: WorkflowHandle[object, DeploymentResult], who: str) -> ApprovalAnswer:
    answer: ApprovalAnswer = await handle.execute_update(
        "approve", ApprovalInput(approver=who), result_type=ApprovalAnswer
    )
    return answer


async def _refusal(handle: WorkflowHandle[object, DeploymentResult], who: str) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await _decide(handle, who)
    return str(refused.value.cause)


async def test_every_author_and_committer_of_the_change_is_refused(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    # bob writes a change; someone else (the default test author, carol's email) commits on top.
    bobs = _commit_as(
        app_repo, {"api/api.conf": "version=2\n"}, "bob's change", author="bob@example.com",
        committer="bob@example.com",
    )  # fmt: skip
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers], timeout: 1h}")
    handle = await _start(temporal_env, gated_settings, store, git)
    await _awaiting(handle)
    refused = await _refusal(handle, "bob")
    assert f"bob is the author of commit {bobs[:12]} in this change (bob@example.com)" in refused
    assert "carol is the author of commit" in await _refusal(handle, "carol")  # the head's author
    assert (await _decide(handle, "alice")).counted
    first = await handle.result()
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    with store.session() as session:
        view = find_view(session, handle.id)
    assert view is not None and view.approvals_required == 1, "the quorum it needed is on record"

    # Next change: authored by dave, committed by alice. bob's commit is live now: he may approve.
    third = _commit_as(
        app_repo, {"web/index.html": "<h1>{{ greeting }}!</h1>\n"}, "dave's change",
        author="dave@example.com", committer="alice@example.com",
    )  # fmt: skip
    handle = await _start(temporal_env, gated_settings, store, git)
    view = await _awaiting(handle)
    assert view.commit == third
    assert f"alice is the committer of commit {third[:12]} in this change" in await _refusal(handle, "alice")
    assert (await _decide(handle, "bob")).counted, "bob's own commit is live already: not this change"
    second = await handle.result()
    assert second.status == DeploymentStatus.SUCCEEDED, second.error


async def test_nobody_left_to_approve_is_rejected_at_once_naming_the_rule(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
) -> None:
    _commit_as(
        app_repo, {"api/api.conf": "version=3\n"}, "alice and bob", author="alice@example.com",
        committer="bob@example.com",
    )  # fmt: skip
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers], timeout: 1h}")
    commit(app_repo, {"db/schema.sql": "CREATE TABLE t (id bigint);\n"}, "carol on top")
    handle = await _start(temporal_env, gated_settings, store, git)
    result = await handle.result()
    assert result.status == DeploymentStatus.REJECTED
    assert "only 0 user(s) may give them (nobody" in (result.error or ""), result.error


async def test_a_commit_that_only_changes_the_rules_passes_the_rules_in_force(
    temporal_env: WorkflowEnvironment,
    gated_worker: None,
    gated_settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    tmp_path: Path,
) -> None:
    _with_environment(app_repo, "uat", "{required: 1, groups: [release-managers], timeout: 1h}")
    handle = await _start(temporal_env, gated_settings, store, git)
    await _awaiting(handle)
    assert (await _decide(handle, "alice")).counted
    assert (await handle.result()).status == DeploymentStatus.SUCCEEDED

    # Nothing to deploy, only the rules: developers would approve, and nobody need to.
    loosened = (
        (app_repo / "lockstep.yaml")
        .read_text()
        .replace(
            "{required: 1, groups: [release-managers], timeout: 1h}", "{required: 0, groups: [developers]}"
        )
    )
    commit(app_repo, {"lockstep.yaml": loosened}, "let developers approve uat")
    handle = await _start(temporal_env, gated_settings, store, git)
    view = await _awaiting(handle)
    assert view.plan.is_empty and view.approvals_required == 1, "the rules in force ask one approval"
    assert "not a member of release-managers" in await _refusal(handle, "dave"), "a developer, not yet"
    assert (await _decide(handle, "bob")).counted
    assert (await handle.result()).status == DeploymentStatus.SUCCEEDED
    await record_history(handle, "deployment-rules-changed")

    # Now they are in force: a quorum of 0 needs nobody.
    commit(app_repo, {"web/index.html": "<h1>{{ greeting }} from uat</h1>\n"}, "a change")
    handle = await _start(temporal_env, gated_settings, store, git)
    result = await handle.result()
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    assert current(tmp_path / "gated", "web") is not None
