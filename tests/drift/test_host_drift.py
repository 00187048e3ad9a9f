"""Drift on a local host target, after a real deployment: files edited, deleted, `current`
switched by hand, a tree that cannot be read, ignore globs, policy decisions, and resolution."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus
from lockstep.drift.sweep import drift_views
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.policy.engine import make_policy_engine
from lockstep.settings import PolicySettings, Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from tests.drift.conftest import Sweep, remediate_in
from tests.support.apprepo import commit, three_tier_manifest
from tests.workflows.helpers import deploy

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def live(root: Path, component: str) -> Path:
    return root / "srv" / component / "current"


def audit_kinds(store: Store) -> list[tuple[str, dict[str, object]]]:
    with store.session() as session:
        rows = events_for(session=session, deployment_id=None)
    return [(r.kind, json.loads(r.detail_json)) for r in rows if r.kind.startswith("drift_")]


async def test_edits_and_deletions_by_hand_are_drift_until_put_back(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    target_root: Path,
    sweep: Sweep,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    clean = sweep()
    assert (clean.state, clean.items, clean.reason) == ("in_sync", [], None)

    index = live(target_root, "web") / "index.html"
    original = index.read_text()
    index.write_text("<h1>edited on the host</h1>\n")
    (live(target_root, "api") / "api.conf").unlink()
    drifted = sweep()

    assert drifted.state == "drifted"
    found = {(i.component, i.kind, i.path): i for i in drifted.items}
    assert set(found) == {("web", "modified", "/srv/web/index.html"), ("api", "missing", "/srv/api/api.conf")}
    edited = found[("web", "modified", "/srv/web/index.html")]
    assert (edited.host, edited.target, edited.decision) == ("local", "local-test", "flag")
    assert edited.last_deployment is not None
    assert (edited.last_deployment.id, edited.last_deployment.commit) == (first.id, first.commit)
    assert edited.last_deployment.at is not None
    assert edited.first_seen == edited.last_seen and edited.resolved_at is None

    again = sweep()  # seen again: the same items, first seen when they were
    by_key = {(i.component, i.kind, i.path): i for i in again.items}
    assert by_key.keys() == found.keys()
    assert by_key[("web", "modified", "/srv/web/index.html")].first_seen == edited.first_seen
    assert by_key[("web", "modified", "/srv/web/index.html")].last_seen > edited.last_seen

    index.write_text(original)  # put back by hand; api.conf stays missing
    after = sweep()
    assert [(i.component, i.kind) for i in after.items] == [("api", "missing")]
    resolved = [d for kind, d in audit_kinds(store) if kind == "drift_resolved"]
    assert [(d["component"], d["resolution"]) for d in resolved] == [("web", "reverted_by_hand")]
    detected = sorted(str(d["component"]) for kind, d in audit_kinds(store) if kind == "drift_detected")
    assert detected == ["api", "web"]  # once each, not on every sweep
    [view] = drift_views(store, application="shop", environment="staging")
    assert view.state == "drifted" and [i.path for i in view.items] == ["/srv/api/api.conf"]


async def test_a_redeployment_resolves_what_it_put_back(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
    sweep: Sweep,
) -> None:
    await deploy(temporal_env, settings, store, git)
    (live(target_root, "api") / "api.conf").write_text("version=hand-made\n")
    assert [i.kind for i in sweep().items] == ["modified"]

    sha = commit(app_repo, {"api/api.conf": "version=2\n"}, "api: version 2")
    ahead = sweep()  # Git ahead of live is pending, not drift
    assert ahead.pending == [sha]
    assert [(i.kind, i.path) for i in ahead.items] == [("modified", "/srv/api/api.conf")]
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.SUCCEEDED, second.error
    synced = sweep()
    assert (synced.state, synced.pending, synced.items) == ("in_sync", [], [])
    resolved = [d for kind, d in audit_kinds(store) if kind == "drift_resolved"]
    assert [(d["component"], d["path"], d["resolution"]) for d in resolved] == [
        ("api", "/srv/api/api.conf", "redeployed")
    ]


async def test_current_switched_by_hand_and_an_unreadable_tree(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    target_root: Path,
    tmp_path: Path,
    sweep: Sweep,
) -> None:
    await deploy(temporal_env, settings, store, git)
    elsewhere = tmp_path / "hand-made"
    shutil.copytree(live(target_root, "db"), elsewhere)
    os.unlink(live(target_root, "db"))
    os.symlink(elsewhere, live(target_root, "db"))
    switched = sweep()
    assert switched.state == "drifted"
    # A link Lockstep did not make: `current` is modified, and the release's files are not there.
    assert {(i.kind, i.path) for i in switched.items} == {
        ("modified", "/srv/db/current"),
        ("missing", "/srv/db/schema.sql"),
    }

    web_current = live(target_root, "web")
    release = os.readlink(web_current)
    os.unlink(web_current)
    web_current.mkdir()  # a real folder where the link was: not Lockstep's to read as a release
    unknown = sweep()
    assert unknown.state == "unknown"
    assert unknown.reason is not None
    assert unknown.reason.startswith("web: local: /srv/web/current is a folder, not a symlink")

    web_current.rmdir()
    os.symlink(release, web_current)
    os.unlink(live(target_root, "db"))
    assert sweep().state == "drifted"  # db's `current` is gone now: missing
    assert ("missing", "/srv/db/current") in {(i.kind, i.path) for i in drift_views(store)[0].items}


async def test_ignore_globs_and_policy_decisions(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
    sweep: Sweep,
) -> None:
    manifest = three_tier_manifest(counters=counters).replace(
        '    health: {commands: ["sh ./health.sh"]',
        "    drift: {ignore: ['/srv/web/*.html']}\n" + '    health: {commands: ["sh ./health.sh"]',
    )
    assert "drift:" in manifest
    commit(app_repo, {"lockstep.yaml": manifest}, "web: index.html is edited on the hosts")
    deployed = await deploy(temporal_env, settings, store, git)
    assert deployed.status == DeploymentStatus.SUCCEEDED, deployed.error

    (live(target_root, "web") / "index.html").write_text("edited\n")
    ignored = sweep()
    assert ignored.state == "in_sync"
    assert [(i.path, i.decision) for i in ignored.items] == [("/srv/web/index.html", "ignore")]

    (live(target_root, "api") / "api.conf").write_text("edited\n")
    bundle = remediate_in(settings, ["staging"])
    decided = sweep(policy=make_policy_engine(PolicySettings(engine="embedded", path=str(bundle))))
    decisions = {i.path: i.decision for i in decided.items}
    assert decisions == {"/srv/web/index.html": "ignore", "/srv/api/api.conf": "remediate"}

    unreachable_opa = make_policy_engine(PolicySettings(engine="opa", url="http://127.0.0.1:9"))
    failed = sweep(policy=unreachable_opa)
    assert {i.path: i.decision for i in failed.items} == {
        "/srv/web/index.html": "ignore",
        "/srv/api/api.conf": "flag",  # a failed evaluation flags, never remediates
    }


async def test_an_ignore_in_a_commit_that_changes_no_component_counts_once_deployed(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
    counters: Path,
    sweep: Sweep,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    manifest = three_tier_manifest(counters=counters).replace(
        '    health: {commands: ["sh ./health.sh"]',
        "    drift: {ignore: ['/srv/web/*.log']}\n" + '    health: {commands: ["sh ./health.sh"]',
    )
    commit(app_repo, {"lockstep.yaml": manifest}, "web writes an access log into its release")
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.SUCCEEDED, second.error
    (live(target_root, "web") / "access.log").write_text("GET /\n")
    found = sweep()
    assert [(i.kind, i.path, i.decision) for i in found.items] == [
        ("unexpected", "/srv/web/access.log", "ignore")
    ]
    assert found.state == "in_sync"
