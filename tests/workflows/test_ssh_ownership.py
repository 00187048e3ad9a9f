"""Hosts as operators really have them, under the Deployment workflow: a full disk, an operator's
files in `releases/`, a `current` that is a folder of data or a link Lockstep did not make.

Real Temporal dev server, real Git, a fleet of three real sshd hosts (tests/support/sshd.py).
Lockstep must never call a truncated release `succeeded` and never destroy what it did not make.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.support.sshd import SshFleet, running_fleet
from tests.workflows.helpers import deploy

pytestmark = [pytest.mark.temporal, pytest.mark.store]

BIG = 200_000


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[SshFleet]:
    with running_fleet(tmp_path / "fleet", 3) as f:
        yield f


@pytest.fixture
def dest(fleet: SshFleet) -> str:
    return f"{fleet.root}/srv/web"


@pytest.fixture
def app_repo(tmp_path: Path, dest: str, fleet: SshFleet) -> Path:
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
      files: [{{src: web/, dest: {dest}, render: false}}]
      deploy: ["echo $LOCKSTEP_COMMIT >> {fleet.root}/deploys"]
    health:
      commands: ["test ! -e {fleet.root}/unhealthy"]
      timeout: 8s
      interval: 500ms
"""
    commit(repo, {"lockstep.yaml": manifest, "web/index.html": "<h1>v1</h1>\n"}, "v1")
    return repo


@pytest.fixture
def settings(settings: Settings, fleet: SshFleet) -> Settings:
    targets = dict(settings.targets) | {"ssh-test": fleet.target(batch=1, keep_releases=1)}
    return settings.model_copy(update={"targets": targets})


def _link(fleet: SshFleet, host: int, dest: str) -> str | None:
    return fleet.readlink(host, f"{dest}/current")


def _ls(fleet: SshFleet, host: int, path: str) -> list[str]:
    return fleet.sh(host, f"ls -A {path} 2>/dev/null || true").split()


async def test_a_full_disk_fails_the_host_and_the_saga_puts_the_others_back(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    app_repo: Path,
    dest: str,
) -> None:
    for host in (1, 2):  # hosts 2 and 3 have a 64 KiB disk under dest; host 1 has room
        fleet.sh(host, f"mkdir -p {dest} && mount -t tmpfs -o size=64k none {dest}")
    first = await deploy(temporal_env, settings, store, git)
    assert first.status == DeploymentStatus.SUCCEEDED, first.error
    commit(app_repo, {"web/big.bin": "x" * BIG, "web/index.html": "<h1>v2</h1>\n"}, "v2")
    second = await deploy(temporal_env, settings, store, git)

    assert second.status == DeploymentStatus.ROLLED_BACK, second.error
    h1, h2, _ = (h.address for h in fleet.hosts)
    assert second.error is not None and h2 in second.error and f"of {BIG} bytes" in second.error
    assert "big.bin" in second.error and "disk full" in second.error
    # Host 1 had taken v2 and is back on v1; host 2 never switched; host 3 was never touched.
    for host in range(3):
        assert _link(fleet, host, dest) == f"releases/{first.commit}"
        assert fleet.read(host, f"{dest}/current/index.html") == "<h1>v1</h1>\n"
    steps = {(s.host, s.action): s for s in second.steps if s.component == "web"}
    assert steps[(h2, "deploy")].status == StepStatus.FAILED
    assert steps[(h1, "rollback")].status == StepStatus.SUCCEEDED
    # What did arrive on host 2 was never named as a release.
    assert second.commit not in _ls(fleet, 1, f"{dest}/releases")


async def test_pruning_spares_what_lockstep_did_not_make(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    app_repo: Path,
    dest: str,
) -> None:
    fleet.sh(0, f"mkdir -p {dest}/releases/backup && echo keep > {dest}/releases/backup/db.dump")
    fleet.sh(0, f"echo notes > {dest}/releases/OPERATOR-NOTES.txt")
    commits = [(await deploy(temporal_env, settings, store, git)).commit]
    for n in (2, 3, 4):
        commit(app_repo, {"web/index.html": f"<h1>v{n}</h1>\n"}, f"v{n}")
        view = await deploy(temporal_env, settings, store, git)
        assert view.status == DeploymentStatus.SUCCEEDED, view.error
        commits.append(view.commit)
    on_disk = _ls(fleet, 0, f"{dest}/releases")
    # keep_releases=1: the live release stays, with the previous one (the way back), nothing older
    assert set(on_disk) == {".lockstep-history", "backup", "OPERATOR-NOTES.txt", commits[-1], commits[-2]}
    assert fleet.read(0, f"{dest}/releases/backup/db.dump") == "keep\n"
    assert fleet.read(0, f"{dest}/releases/OPERATOR-NOTES.txt") == "notes\n"


async def test_a_releases_symlink_is_refused_before_any_host_changes(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    dest: str,
) -> None:
    fleet.sh(2, f"mkdir -p {fleet.root}/elsewhere {dest} && echo precious > {fleet.root}/elsewhere/data")
    fleet.sh(2, f"ln -s {fleet.root}/elsewhere {dest}/releases")
    view = await deploy(temporal_env, settings, store, git)

    assert view.status == DeploymentStatus.FAILED, view.error
    h3 = fleet.hosts[2].address
    assert view.error is not None and f"{h3}: {dest}/releases is a symlink" in view.error
    for host in range(3):  # nothing changed anywhere, not even on the hosts that were fine
        assert _link(fleet, host, dest) is None
    assert _ls(fleet, 0, dest) == []
    assert _ls(fleet, 2, f"{fleet.root}/elsewhere") == ["data"]
    steps = {(s.host, s.action): s for s in view.steps if s.component == "web"}
    assert steps[(h3, "deploy")].status == StepStatus.FAILED


async def test_a_current_folder_with_data_is_refused_and_kept(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    dest: str,
) -> None:
    fleet.sh(1, f"mkdir -p {dest}/current/uploads && echo photo > {dest}/current/uploads/cat.jpg")
    view = await deploy(temporal_env, settings, store, git)

    assert view.status == DeploymentStatus.FAILED, view.error
    h2 = fleet.hosts[1].address
    assert view.error is not None and f"{h2}: {dest}/current is a folder, not a symlink" in view.error
    assert fleet.read(1, f"{dest}/current/uploads/cat.jpg") == "photo\n"
    assert _link(fleet, 0, dest) is None  # host 1 was not touched either


async def test_a_foreign_current_link_is_restored_exactly(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    dest: str,
) -> None:
    for host in range(3):  # what a Capistrano-style tool left: current -> releases/20240101
        fleet.sh(host, f"mkdir -p {dest}/releases/20240101 && echo old > {dest}/releases/20240101/index.html")
        fleet.sh(host, f"ln -s releases/20240101 {dest}/current")
    fleet.sh(1, f"touch {fleet.root}/unhealthy")
    view = await deploy(temporal_env, settings, store, git)

    assert view.status == DeploymentStatus.ROLLED_BACK, view.error
    for host in range(3):
        assert _link(fleet, host, dest) == "releases/20240101"
        assert fleet.read(host, f"{dest}/current/index.html") == "old\n"
    steps = {(s.host, s.action): s for s in view.steps if s.component == "web"}
    h1 = fleet.hosts[0].address
    assert steps[(h1, "rollback")].status == StepStatus.SUCCEEDED
    assert "releases/20240101" in (steps[(h1, "rollback")].output or "")
