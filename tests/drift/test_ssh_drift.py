"""Drift on a fleet of three real sshd hosts (tests/support/sshd.py), swept by the DriftSweep
workflow on the real worker: a file edited by hand on one host, a `current` switched back by
hand on another and a file added by hand on the third are each reported with host, path, kind
and the deployment that set them. Flagged (the default policy), nothing changes; with
remediation on for the environment, one remediation deployment puts every host back and the
next sweep resolves the items as `remediated`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus
from lockstep.drift.sweep import drift_views
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.deployments import list_deployments
from lockstep.store.engine import Store
from tests.drift.conftest import remediate, sweep_now
from tests.support.apprepo import commit
from tests.support.sshd import SshFleet, running_fleet
from tests.workflows.helpers import deploy, deployment_result

pytestmark = [pytest.mark.temporal, pytest.mark.store]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[SshFleet]:
    with running_fleet(tmp_path / "fleet", 3) as f:
        yield f


@pytest.fixture
def app_repo(tmp_path: Path, fleet: SshFleet) -> Path:
    repo = tmp_path / "shop"
    manifest = f"""\
application: shop
environments:
  - name: staging
    branch: main
    targets: {{vms: ssh-test}}
components:
  - name: web
    target: vms
    host:
      files: [{{src: web/, dest: {fleet.root}/srv/web}}]
      deploy: ["date > started.txt"]
    health: {{commands: ["test -s index.html"], timeout: 5s, interval: 200ms}}
"""
    commit(repo, {"lockstep.yaml": manifest, "web/index.html": "v1\n", "web/app.conf": "a=1\n"}, "v1")
    return repo


@pytest.fixture
def settings(settings: Settings, fleet: SshFleet) -> Settings:
    targets = dict(settings.targets) | {"ssh-test": fleet.target()}
    return settings.model_copy(update={"targets": targets})


def current(fleet: SshFleet, host: int) -> str | None:
    link = fleet.readlink(host, f"{fleet.root}/srv/web/current")
    return link.rsplit("/", 1)[-1] if link else None


async def test_hand_changes_on_a_fleet_are_reported_then_remediated(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    fleet: SshFleet,
) -> None:
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    commit(app_repo, {"web/index.html": "v2\n"}, "v2")
    second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.SUCCEEDED, second.error
    web = f"{fleet.root}/srv/web"
    fleet.sh(0, f"echo edited > {web}/current/index.html")
    fleet.sh(
        1, f"ln -sfn {web}/releases/{first.commit} {web}/current.new && mv -T {web}/current.new {web}/current"
    )
    fleet.sh(2, f"echo added > {web}/current/notes.txt")
    hosts = fleet.target().hosts

    [flagged] = (await sweep_now(temporal_env, settings)).environments
    assert (flagged.state, flagged.remediation) == ("drifted", None)
    [view] = drift_views(store, application="shop", environment="staging")
    assert {(i.host, i.kind, i.path) for i in view.items} == {
        (hosts[0], "modified", f"{web}/index.html"),
        (hosts[1], "modified", f"{web}/current"),
        (hosts[1], "modified", f"{web}/index.html"),
        (hosts[2], "unexpected", f"{web}/notes.txt"),
    }
    for item in view.items:
        assert item.decision == "flag" and item.last_deployment is not None
        assert (item.last_deployment.id, item.last_deployment.commit) == (second.id, second.commit)
    # Flagged only: nothing started, nothing changed on the hosts.
    assert current(fleet, 1) == first.commit and fleet.read(0, f"{web}/current/index.html") == "edited\n"
    with store.session() as session:
        assert len(list_deployments(session=session, application="shop")) == 2

    await remediate(settings, ["staging"])
    [remediating] = (await sweep_now(temporal_env, settings)).environments
    assert remediating.remediation is not None
    result = await deployment_result(temporal_env, remediating.remediation)
    assert result.status == DeploymentStatus.SUCCEEDED, result.error

    for host in range(3):
        assert fleet.read(host, f"{web}/current/index.html") == "v2\n"
        assert fleet.read(host, f"{web}/current/notes.txt") is None
    assert current(fleet, 1) == second.commit  # its complete release is switched back to
    assert (current(fleet, 0) or "").startswith(f"{second.commit}.")  # a fresh one beside the edit
    assert fleet.read(0, f"{web}/releases/{second.commit}/index.html") == "edited\n"

    [synced] = (await sweep_now(temporal_env, settings)).environments
    assert (synced.state, synced.items, synced.remediation) == ("in_sync", 0, None)
    assert drift_views(store, application="shop", environment="staging")[0].items == []
