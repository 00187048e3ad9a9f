"""The demo `lockstep dev` seeds: a real Git repository and a server config that fit together.

The seeded repository is read back through the real Git mirror, validated, rendered for both
environments against the written config's targets and planned; one test then delivers it onto
the config's local target, so the demo's own deploy and health commands are known to work.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lockstep.delivery.host import DeliveryLimits, HostDelivery, deliver_host_component
from lockstep.delivery.journal import MemoryJournal
from lockstep.devstack.demo import (
    DEMO_AUTHOR_EMAIL,
    DEMO_SCHEMA_FILE,
    DEMO_USERS,
    demo_files,
    seed_demo_repository,
    write_dev_config,
)
from lockstep.domain.models import RenderedComponent
from lockstep.domain.status import ComponentAction, StepStatus
from lockstep.editor_schemas import SchemaName
from lockstep.editor_schemas import render as render_schema
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.manifest import load_manifest, render_environment
from lockstep.planning.plan import make_plan
from lockstep.settings import DEFAULT_POLICY_BUNDLE, LocalTargetSettings, Settings, load_settings
from lockstep.targets.local import LocalConnection
from lockstep.targets.releases import current_release
from tests.support.apprepo import git


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.upper().startswith("LOCKSTEP_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def dev_settings(state_dir: Path) -> Settings:
    """The dev config, with the demo seeded where the config says it is."""
    settings = load_settings(write_dev_config(state_dir, temporal_port=7233, api_listen="127.0.0.1:8000"))
    assert seed_demo_repository(Path(settings.repositories[0].url))
    return settings


def render(settings: Settings, tmp_path: Path, environment: str) -> list[RenderedComponent]:
    url = settings.repositories[0].url
    mirrors = GitMirrors(tmp_path / "mirrors")
    tree = mirrors.tree(url, mirrors.resolve(url, "HEAD"))
    target_types = {name: target.type for name, target in settings.targets.items()}
    return render_environment(load_manifest(tree), environment, tree, target_types=target_types)


def test_seeding_creates_a_repository_with_one_commit(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    assert seed_demo_repository(repo) is True

    assert git(repo, "rev-list", "--count", "HEAD") == "1"
    assert git(repo, "branch", "--show-current") == "main"
    assert git(repo, "status", "--porcelain") == ""  # everything committed
    assert sorted(git(repo, "ls-files").splitlines()) == sorted(demo_files())


def test_the_demo_manifest_names_the_schema_committed_beside_it(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    seed_demo_repository(repo)

    first_line = (repo / "lockstep.yaml").read_text().splitlines()[0]
    assert first_line == f"# yaml-language-server: $schema=./{DEMO_SCHEMA_FILE}"
    assert (repo / DEMO_SCHEMA_FILE).read_text() == render_schema(SchemaName.manifest)


def test_seeding_again_changes_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    seed_demo_repository(repo)
    head = git(repo, "rev-parse", "HEAD")
    (repo / "api" / "config.env").write_text("WORKERS=8\n")  # a user's uncommitted edit

    assert seed_demo_repository(repo) is False

    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "rev-list", "--count", "HEAD") == "1"
    assert (repo / "api" / "config.env").read_text() == "WORKERS=8\n"


def test_dev_config_loads_with_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_dev_config(Path(".lockstep"), temporal_port=7299, api_listen="127.0.0.1:8011")

    settings = load_settings(path)

    root = (tmp_path / ".lockstep").resolve()
    assert settings.temporal.address == "127.0.0.1:7299"
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8011)
    assert settings.database_url == f"sqlite:///{root / 'lockstep.db'}"
    assert Path(settings.state_dir) == root
    [repo] = settings.repositories
    assert Path(repo.url) == root / "demo" / "shop"
    assert set(settings.targets) == {"local-staging", "local-production", "k8s-staging", "k8s-production"}
    # A copy of the shipped bundle to edit, with its tests (`lockstep policy test`).
    assert Path(settings.policy.path) == root / "policies"
    assert (root / "policies" / "data.json").read_text() == (DEFAULT_POLICY_BUNDLE / "data.json").read_text()
    assert sorted(p.name for p in (root / "policies" / "lockstep").iterdir()) == sorted(
        p.name for p in (DEFAULT_POLICY_BUNDLE / "lockstep").iterdir()
    )
    for name, env in (("local-staging", "staging"), ("local-production", "production")):
        target = settings.targets[name]
        assert isinstance(target, LocalTargetSettings)
        assert Path(target.root).is_absolute()
        assert Path(target.root) == root / "targets" / env


def test_dev_users_have_private_random_tokens_matching_their_hashes(state_dir: Path) -> None:
    settings = load_settings(write_dev_config(state_dir, temporal_port=7233, api_listen="127.0.0.1:8000"))

    assert set(settings.users) == set(DEMO_USERS) == {"alice", "bob", "demo"}
    tokens = set()
    for name, user in settings.users.items():
        token_file = state_dir / "tokens" / name
        assert token_file.stat().st_mode & 0o077 == 0, "a token is readable by its owner only"
        token = token_file.read_text().strip()
        tokens.add(token)
        assert user.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert "release-managers" in user.groups
    assert len(tokens) == 3
    assert settings.users["demo"].email == DEMO_AUTHOR_EMAIL, "the demo's commits are demo's own"


def test_dev_config_is_written_once(state_dir: Path) -> None:
    path = write_dev_config(state_dir, temporal_port=7233, api_listen="127.0.0.1:8000")
    path.write_text(path.read_text().replace("127.0.0.1:8000", "127.0.0.1:9000"))

    again = write_dev_config(state_dir, temporal_port=7400, api_listen="127.0.0.1:8000")

    assert again == path
    settings = load_settings(again)
    assert settings.api.port == 9000  # the user's edit survives
    assert settings.temporal.address == "127.0.0.1:7233"


@pytest.mark.parametrize(("environment", "workers"), [("staging", "1"), ("production", "3")])
def test_demo_renders_for_each_environment(
    dev_settings: Settings, tmp_path: Path, environment: str, workers: str
) -> None:
    components = render(dev_settings, tmp_path, environment)

    by_name = {c.name: c for c in components}
    assert list(by_name) == ["db", "api", "web"]
    assert {c.kind for c in components} == {"host"}
    assert {c.target_name for c in components} == {f"local-{environment}"}
    assert by_name["api"].depends_on == ("db",)
    assert by_name["web"].depends_on == ("api",)
    [api_files] = by_name["api"].releases
    assert api_files.dest == "/srv/shop/api"
    assert api_files.files["config.env"] == f"WORKERS={workers}\n".encode()
    [web_files] = by_name["web"].releases
    assert f"Hello from {environment}".encode() in web_files.files["index.html"]
    assert by_name["web"].health.commands == ["sh ./healthcheck.sh"]
    assert by_name["web"].health.timeout_seconds == 10.0


def test_environments_render_different_content(dev_settings: Settings, tmp_path: Path) -> None:
    staging = {c.name: c.content_hash for c in render(dev_settings, tmp_path, "staging")}
    production = {c.name: c.content_hash for c in render(dev_settings, tmp_path, "production")}
    assert staging["api"] != production["api"]
    assert staging["web"] != production["web"]


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_first_plan_has_three_waves(dev_settings: Settings, tmp_path: Path, environment: str) -> None:
    plan = make_plan(render(dev_settings, tmp_path, environment), {})

    assert plan.waves == [["db"], ["api"], ["web"]]
    assert [(c.name, c.action) for c in plan.components] == [
        ("db", ComponentAction.CREATE),
        ("api", ComponentAction.CREATE),
        ("web", ComponentAction.CREATE),
    ]
    assert plan.unchanged == []


def test_demo_deploys_onto_its_local_target(dev_settings: Settings, tmp_path: Path) -> None:
    components = {c.name: c for c in render(dev_settings, tmp_path, "staging")}
    plan = make_plan(list(components.values()), {})
    target = dev_settings.targets["local-staging"]
    assert isinstance(target, LocalTargetSettings)
    Path(target.root).mkdir(parents=True)
    conn = LocalConnection(Path(target.root))
    release = "c" * 40

    for wave in plan.waves:
        for name in wave:
            journal = MemoryJournal()
            env = {"LOCKSTEP_COMMIT": release, "LOCKSTEP_COMPONENT": name, "LOCKSTEP_ENVIRONMENT": "staging"}
            d = HostDelivery(components[name], release, env, journal, DeliveryLimits(command_timeout=10.0))
            assert [c.location for c in deliver_host_component(d, [conn], batch=1)] == ["local"]
            assert journal.step_status(host="local", action="health") == StepStatus.SUCCEEDED

    shop = Path(target.root) / "srv" / "shop"
    for name in ("db", "api", "web"):
        assert current_release(conn, f"/srv/shop/{name}") == release
    assert (shop / "db" / "current" / "migrated.txt").read_text().strip() == "1"
    assert (shop / "api" / "current" / "status").read_text().startswith("ok WORKERS=1")
    assert "Hello from staging" in (shop / "web" / "current" / "served.html").read_text()

    # Redelivered under a new commit with the same files, every host is unchanged: the files the
    # deploy commands wrote into the releases (migrated.txt, status, served.html) are not Lockstep's.
    again = "d" * 40
    for wave in plan.waves:
        for name in wave:
            env = {"LOCKSTEP_COMMIT": again, "LOCKSTEP_COMPONENT": name, "LOCKSTEP_ENVIRONMENT": "staging"}
            d = HostDelivery(
                components[name], again, env, MemoryJournal(), DeliveryLimits(command_timeout=10.0)
            )
            [changes] = deliver_host_component(d, [conn], batch=1)
            assert changes.counts()["deleted"] == 0 and not changes.changed, (name, changes.summary())
            assert current_release(conn, f"/srv/shop/{name}") == release
