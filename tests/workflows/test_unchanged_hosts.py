"""A host component whose content hash changed but whose files did not, end to end: real
Temporal, real Git, the local target. The plan still lists it (its deploy command changed) and
its dependent `web`; the delivery finds the live release's files identical: nothing staged or
switched, but the deploy commands run in the live release with the new commit (a restart the plan
asked for), health checked, `unchanged` in its step and its audit entry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import ComponentAction, DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from tests.support.apprepo import commit, three_tier_manifest
from tests.workflows.helpers import current, deploy, runs

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def test_a_changed_deploy_command_alone_runs_in_the_unchanged_release(
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
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    first_sha = first.commit

    manifest = three_tier_manifest(counters=counters, api_deploy_extra="; true")
    commit(app_repo, {"lockstep.yaml": manifest}, "api: one more deploy command")
    second = await deploy(temporal_env, settings, store, git)

    assert second.status == DeploymentStatus.SUCCEEDED, second.error
    planned = {c.name: c for c in second.plan.components}
    assert planned["api"].action == ComponentAction.UPDATE  # its content hash changed
    assert set(planned) == {"api", "web"}
    for component in ("api", "web"):
        assert current(target_root, component) == first_sha, f"{component} was switched"
        assert runs(counters, component) == [first_sha, second.commit], f"{component}'s deploy commands"
        assert not (target_root / "srv" / component / "releases" / second.commit).exists()
        steps = {s.action: s for s in second.steps if s.component == component}
        assert steps["deploy"].status == StepStatus.SUCCEEDED
        assert (steps["deploy"].output or "").splitlines()[0] == (
            f"unchanged: files identical to the live release {first_sha[:12]}; nothing staged or switched; "
            "deploy commands run in it"
        )
        assert steps["health"].status == StepStatus.SUCCEEDED

    with store.session() as session:
        audit = events_for(session=session, deployment_id=second.id)
    finished = {
        detail["component"]: detail
        for detail in (json.loads(e.detail_json) for e in audit if e.kind == "step_finished")
    }
    assert finished["api"]["changes"] == {"created": 0, "configured": 0, "unchanged": 1, "deleted": 0}
    assert finished["web"]["changes"] == {"created": 0, "configured": 0, "unchanged": 2, "deleted": 0}
    assert finished["api"]["locations"] == {"local": finished["api"]["changes"]}

    # The first deployment's audit entries counted every file as created.
    with store.session() as session:
        first_audit = events_for(session=session, deployment_id=first.id)
    created = {
        detail["component"]: detail["changes"]["created"]
        for detail in (json.loads(e.detail_json) for e in first_audit if e.kind == "step_finished")
    }
    assert created == {"db": 1, "api": 1, "web": 2}


async def test_a_rollback_reruns_the_live_revision_s_commands_also_on_an_unchanged_host(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
) -> None:
    """C0 stages api; C1 changes only api's deploy command (api stays on C0's release, runs C1's
    command; the store says C1 is live). D2 changes api's command again and breaks web's health:
    api is delivered as unchanged (D2's command runs), web is switched and fails. The rollback
    puts web back on its release and runs C1's commands on both, api included: its deploy
    commands ran, so they are undone, and the deployment ends rolled back."""
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    which = counters / "api-which"
    commit(
        app_repo,
        {"lockstep.yaml": three_tier_manifest(counters=counters, api_deploy_extra=f"; echo c1 >> {which}")},
        "c1",
    )
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.SUCCEEDED, second.error
    files = {
        "lockstep.yaml": three_tier_manifest(counters=counters, api_deploy_extra=f"; echo d2 >> {which}"),
        "web/health.sh": "exit 1\n",
    }
    commit(app_repo, files, "d2: api's command again, and a broken web")
    third = await deploy(temporal_env, settings, store, git)

    assert third.status == DeploymentStatus.ROLLED_BACK, third.error
    c0, c1, d2 = first.commit, second.commit, third.commit
    assert which.read_text().split() == ["c1", "d2", "c1"]  # C1's command, not C0's, after D2's
    assert runs(counters, "api") == [c0, c1, d2, c1]
    assert runs(counters, "web") == [c0, c1, d2, c1]  # on C0's release, with C1's commands
    assert (current(target_root, "api"), current(target_root, "web")) == (c0, c0)
    steps = {(s.component, s.action): s for s in third.steps}
    assert steps[("api", "rollback")].status == StepStatus.SUCCEEDED
    assert f"deploy commands of {c1[:12]} run again" in (steps[("api", "rollback")].output or "")
    assert steps[("web", "rollback")].status == StepStatus.SUCCEEDED
    with store.session() as session:
        audit = events_for(session=session, deployment_id=third.id)
    rollbacks = {
        detail["component"]: detail
        for detail in (json.loads(e.detail_json) for e in audit if e.kind == "rollback")
    }
    assert rollbacks["api"]["changes"] == {"created": 0, "configured": 1, "unchanged": 0, "deleted": 0}
