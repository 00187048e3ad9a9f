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
