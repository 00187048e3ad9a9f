"""Remediation, end to end on the real worker (Temporal, Git, local target): the drift sweep
workflow finds a file edited and a file added by hand, the policy decides `remediate`, a
deployment with trigger `remediation` delivers the drifted component again (only it), through
the lane, into a fresh release beside the hand-edited one, and the next sweep resolves the items
as `remediated` by it. With the default policy the items are only flagged and nothing changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus
from lockstep.drift.sweep import drift_views
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.views import find_view
from lockstep.settings import Settings
from lockstep.store.deployments import list_deployments
from lockstep.store.engine import Store
from lockstep.store.steps import steps_for
from tests.drift.conftest import remediate, sweep_now
from tests.workflows.helpers import current, deploy, deployment_result

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def live(root: Path, component: str) -> Path:
    return root / "srv" / component / "current"


async def test_a_remediation_puts_the_drifted_component_back_and_resolves_its_items(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    target_root: Path,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    api = live(target_root, "api")
    original = (api / "api.conf").read_text()
    (api / "api.conf").write_text("edited by hand\n")
    (api / "added.txt").write_text("added by hand\n")
    await remediate(settings, ["staging"])

    [swept] = (await sweep_now(temporal_env, settings)).environments
    assert (swept.state, swept.items) == ("drifted", 2)
    assert swept.remediation is not None
    [view] = drift_views(store, application="shop", environment="staging")
    assert {(i.component, i.kind, i.path, i.decision, i.remediation) for i in view.items} == {
        ("api", "modified", "/srv/api/api.conf", "remediate", swept.remediation),
        ("api", "unexpected", "/srv/api/added.txt", "remediate", swept.remediation),
    }

    result = await deployment_result(temporal_env, swept.remediation)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error
    with store.session() as session:
        record = next(
            r for r in list_deployments(session=session, application="shop") if r.id == swept.remediation
        )
        steps = steps_for(session=session, deployment_id=swept.remediation)
    assert (record.trigger, record.commit) == ("remediation", first.commit)
    with store.session() as session:
        shown = find_view(session, swept.remediation)
    assert shown is not None and (shown.actor, shown.actor_source) == ("drift sweep", "system")
    assert {s.component for s in steps} == {"api"}  # the drifted component only
    assert (api / "api.conf").read_text() == original and not (api / "added.txt").exists()
    # A fresh release beside the hand-edited one, which stays as it was: the way back.
    fresh = current(target_root, "api")
    assert fresh is not None and fresh.startswith(f"{first.commit}.") and fresh != first.commit
    kept = target_root / "srv" / "api" / "releases" / first.commit
    assert (kept / "api.conf").read_text() == "edited by hand\n" and (kept / "added.txt").exists()
    assert current(target_root, "web") == first.commit  # not touched

    [again] = (await sweep_now(temporal_env, settings)).environments
    assert (again.state, again.items, again.remediation) == ("in_sync", 0, None)
    [view] = drift_views(store, application="shop", environment="staging")
    assert view.items == []
    resolved = _resolved(store)
    assert sorted(resolved) == [
        ("/srv/api/added.txt", "remediated", swept.remediation),
        ("/srv/api/api.conf", "remediated", swept.remediation),
    ]


async def test_flagged_drift_starts_nothing_and_changes_nothing(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    target_root: Path,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    api = live(target_root, "api")
    (api / "api.conf").write_text("edited by hand\n")
    before = os.readlink(api)

    for _ in range(2):
        [swept] = (await sweep_now(temporal_env, settings)).environments
        assert (swept.state, swept.items, swept.remediation) == ("drifted", 1, None)
    [view] = drift_views(store, application="shop", environment="staging")
    assert [(i.decision, i.remediation) for i in view.items] == [("flag", None)]
    assert os.readlink(api) == before and (api / "api.conf").read_text() == "edited by hand\n"
    with store.session() as session:
        assert [r.id for r in list_deployments(session=session, application="shop")] == [first.id]


def _resolved(store: Store) -> list[tuple[str, str | None, str | None]]:
    from lockstep.store.audit import events_for

    with store.session() as session:
        rows = events_for(session=session, deployment_id=None)
    details = [json.loads(r.detail_json) for r in rows if r.kind == "drift_resolved"]
    return [(d["path"], d["resolution"], d["remediation"]) for d in details]
