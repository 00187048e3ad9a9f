"""Relative paths in the server configuration: one rule, applied once by `load_settings`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lockstep.config_paths import absolute, absolute_repository, absolute_sqlite_url, is_local_path
from lockstep.settings import (
    KubernetesTargetSettings,
    LocalTargetSettings,
    Settings,
    SshTargetSettings,
    load_settings,
)

BASE = Path("/etc/lockstep")
RELATIVE_EVERYTHING = """\
state_dir: state
database_url: "sqlite:///data/lockstep.db"
policy: {path: rules}
repositories: [{url: repos/shop}, {url: "git@git.example.com:acme/shop.git"}]
targets:
  site: {type: local, root: targets/site}
  vms: {type: ssh, hosts: [a], user: deploy, key_file: keys/deploy, known_hosts: keys/known_hosts}
  k8s: {type: kubernetes, kubeconfig: kube/config}
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("LOCKSTEP_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("state", "/etc/lockstep/state"),
        ("./a/../b", "/etc/lockstep/b"),
        ("/var/lib/lockstep", "/var/lib/lockstep"),
        ("~/keys/id", str(Path.home() / "keys" / "id")),
    ],
)
def test_absolute(path: str, expected: str) -> None:
    assert absolute(path, BASE) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///.lockstep/lockstep.db", "sqlite:////etc/lockstep/.lockstep/lockstep.db"),
        ("sqlite+pysqlite:///db.sqlite?timeout=5", "sqlite+pysqlite:////etc/lockstep/db.sqlite?timeout=5"),
        ("sqlite:////var/lib/lockstep.db", "sqlite:////var/lib/lockstep.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite:///file:db?mode=ro&uri=true", "sqlite:///file:db?mode=ro&uri=true"),
        ("postgresql+psycopg://lockstep@db/lockstep", "postgresql+psycopg://lockstep@db/lockstep"),
    ],
)
def test_only_a_sqlite_url_naming_a_relative_file_changes(url: str, expected: str) -> None:
    assert absolute_sqlite_url(url, BASE) == expected


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("shop", True),
        ("../git/shop.git", True),
        ("/srv/git/shop.git", True),
        ("~/git/shop", True),
        ("./odd:name", True),
        ("https://git.example.com/shop.git", False),
        ("file:///srv/git/shop.git", False),
        ("git@git.example.com:acme/shop.git", False),
        ("host:shop.git", False),
    ],
)
def test_a_repository_is_a_local_path_as_git_decides(url: str, local: bool) -> None:
    assert is_local_path(url) is local
    assert (absolute_repository(url, BASE) != url) is (local and not url.startswith("/"))


def test_relative_paths_resolve_against_the_config_files_folder_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    (etc / "rules").mkdir(parents=True)
    config = etc / "lockstep-server.yaml"
    config.write_text(RELATIVE_EVERYTHING)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("LOCKSTEP_CONFIG", os.path.relpath(config))  # itself relative to the cwd

    s = load_settings()

    assert s.state_dir == str(etc / "state")
    assert s.mirrors_dir == etc / "state" / "mirrors"
    assert s.database_url == f"sqlite:///{etc}/data/lockstep.db"
    assert s.policy.path == str((etc / "rules").resolve())
    assert [r.url for r in s.repositories] == [
        str(etc / "repos" / "shop"),
        "git@git.example.com:acme/shop.git",
    ]
    site, vms, k8s = s.targets["site"], s.targets["vms"], s.targets["k8s"]
    assert isinstance(site, LocalTargetSettings) and site.root == str(etc / "targets" / "site")
    assert isinstance(vms, SshTargetSettings)
    assert (vms.key_file, vms.known_hosts) == (
        str(etc / "keys" / "deploy"),
        str(etc / "keys" / "known_hosts"),
    )
    assert isinstance(k8s, KubernetesTargetSettings) and k8s.kubeconfig == str(etc / "kube" / "config")
    assert not any(elsewhere.iterdir())  # loading creates nothing


def test_environment_overrides_follow_the_same_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "etc" / "lockstep-server.yaml"
    config.parent.mkdir()
    config.write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOCKSTEP_STATE_DIR", "from-env")
    monkeypatch.setenv("LOCKSTEP_DATABASE_URL", "sqlite:///from-env.db")

    s = load_settings(config)

    assert s.state_dir == str(tmp_path / "etc" / "from-env")
    assert s.database_url == f"sqlite:///{tmp_path}/etc/from-env.db"


def test_without_a_config_file_the_working_directory_is_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.state_dir == str(tmp_path / ".lockstep")
    assert s.database_url == f"sqlite:///{tmp_path}/.lockstep/lockstep.db"


def test_the_defaults_land_beside_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "srv" / "lockstep-server.yaml"
    config.parent.mkdir()
    config.write_text("targets: {site: {type: local, root: site}}\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings(config)
    assert s.state_dir == str(tmp_path / "srv" / ".lockstep")
    assert s.database_url == f"sqlite:///{tmp_path}/srv/.lockstep/lockstep.db"


def test_settings_built_in_python_are_left_as_written() -> None:
    s = Settings(state_dir="state", targets={"site": {"type": "local", "root": "site"}})
    assert s.state_dir == "state" and s.database_url == "sqlite:///.lockstep/lockstep.db"
