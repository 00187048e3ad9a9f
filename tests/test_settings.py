"""The server configuration (docs/configuration.md): the YAML file, environment overrides,
strictness, durations and where the file is looked for."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from lockstep.domain.durations import parse_duration
from lockstep.domain.errors import ConfigError
from lockstep.settings import (
    KubernetesTargetSettings,
    LocalTargetSettings,
    SshTargetSettings,
    config_path,
    load_settings,
)

SPEC_EXAMPLE = """\
temporal: {address: "localhost:7233", namespace: default, task_queue: lockstep}
database_url: "sqlite:///.lockstep/lockstep.db"      # or postgresql+psycopg://user@host/db
api: {listen: "127.0.0.1:8000"}
policy: {engine: embedded, path: policies}           # or {engine: opa, url: "http://127.0.0.1:8181"}
drift: {interval: 5m}
repositories:
  - url: "https://git.example.com/shop.git"         # or file:///srv/git/shop.git, or a local path
    name: acme/shop                                  # optional; webhooks match by this or by URL
    webhook_secret_env: SHOP_WEBHOOK_SECRET          # the secret itself stays in the environment
targets:
  local-dev:   {type: local, root: /var/lib/lockstep/local}
  vms-staging: {type: ssh, hosts: ["10.0.0.5", "10.0.0.6:2222"], user: deploy,
                key_file: ~/.ssh/id_ed25519, known_hosts: ~/.ssh/known_hosts, batch: 1}
  k8s-staging: {type: kubernetes, kubeconfig: ~/.kube/config, context: staging, namespace: shop}
users:
  alice: {groups: [release-managers], email: alice@example.com,
          token_sha256: "<hex sha256 of alice's API token>"}
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LOCKSTEP_* variable of the surrounding shell may leak into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("LOCKSTEP_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "lockstep-server.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_spec_example_loads_with_typed_targets(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, SPEC_EXAMPLE))

    assert settings.temporal.address == "localhost:7233"
    assert settings.temporal.namespace == "default"
    assert settings.temporal.task_queue == "lockstep"
    # Relative paths are taken against the config file's folder, `~` against the home folder.
    assert settings.database_url == f"sqlite:///{tmp_path}/.lockstep/lockstep.db"
    assert settings.state_dir == str(tmp_path / ".lockstep")
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8000)
    assert settings.policy.engine == "embedded"
    # The default `policies` is found beside the config file, in the working folder, or shipped.
    assert Path(settings.policy.path).is_absolute() and Path(settings.policy.path).name == "policies"
    assert settings.drift.interval == timedelta(minutes=5)
    [repo] = settings.repositories
    assert (repo.url, repo.name, repo.webhook_secret_env) == (
        "https://git.example.com/shop.git",
        "acme/shop",
        "SHOP_WEBHOOK_SECRET",
    )

    local = settings.targets["local-dev"]
    assert isinstance(local, LocalTargetSettings)
    assert local.root == "/var/lib/lockstep/local"
    ssh = settings.targets["vms-staging"]
    assert isinstance(ssh, SshTargetSettings)
    assert ssh.hosts == ["10.0.0.5", "10.0.0.6:2222"]
    home = Path.home()
    assert (ssh.user, ssh.key_file, ssh.known_hosts, ssh.batch) == (
        "deploy",
        str(home / ".ssh" / "id_ed25519"),
        str(home / ".ssh" / "known_hosts"),
        1,
    )
    kube = settings.targets["k8s-staging"]
    assert isinstance(kube, KubernetesTargetSettings)
    assert (kube.kubeconfig, kube.context, kube.namespace) == (
        str(home / ".kube" / "config"),
        "staging",
        "shop",
    )

    alice = settings.users["alice"]
    assert alice.groups == ["release-managers"]
    assert alice.email == "alice@example.com"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, SPEC_EXAMPLE.replace("namespace: default", "namespace: shop-ns"))
    monkeypatch.setenv("LOCKSTEP_DATABASE_URL", "postgresql+psycopg://lockstep@db/lockstep")
    monkeypatch.setenv("LOCKSTEP_TEMPORAL__ADDRESS", "temporal.internal:7233")

    settings = load_settings(path)

    assert settings.database_url == "postgresql+psycopg://lockstep@db/lockstep"
    assert settings.temporal.address == "temporal.internal:7233"
    # A nested override replaces one key, not the whole group the file defined.
    assert settings.temporal.namespace == "shop-ns"
    assert settings.temporal.task_queue == "lockstep"
    assert "local-dev" in settings.targets


def test_environment_alone_without_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no config file anywhere
    monkeypatch.setenv("LOCKSTEP_TEMPORAL__NAMESPACE", "other")
    settings = load_settings()
    assert settings.temporal.namespace == "other"
    assert settings.temporal.address == "localhost:7233"


def test_the_cli_variables_are_not_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # LOCKSTEP_API_URL and LOCKSTEP_TOKEN belong to the CLI; unknown-key strictness must not trip on them.
    monkeypatch.setenv("LOCKSTEP_API_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("LOCKSTEP_TOKEN", "not-a-setting")
    settings = load_settings(write(tmp_path, SPEC_EXAMPLE))
    assert settings.api.listen == "127.0.0.1:8000"
    assert "not-a-setting" not in settings.model_dump_json()


def test_unknown_top_level_key_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, SPEC_EXAMPLE + "colour: blue\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(path) in str(err.value)
    assert "colour" in str(err.value)


def test_unknown_nested_target_key_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "targets:\n  site: {type: local, root: /srv, rooot: /typo}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert str(path) in message
    assert "targets.site" in message
    assert "rooot" in message


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "temporal: {address: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as err:
        load_settings(path)
    assert str(path) in str(err.value)


def test_a_list_at_the_top_level_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping") as err:
        load_settings(path)
    assert str(path) in str(err.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "lockstep-server.yaml"
    with pytest.raises(ConfigError, match="not found") as err:
        load_settings(path)
    assert str(path) in str(err.value)


def test_bad_drift_interval_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "drift: {interval: soon}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "drift.interval" in str(err.value)
    assert "soon" in str(err.value)


def test_unknown_target_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "targets:\n  site: {type: ftp, root: /srv}\n")
    with pytest.raises(ConfigError, match=r"targets\.site") as err:
        load_settings(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("500ms", 0.5),
        ("90s", 90.0),
        ("5m", 300.0),
        ("24h", 86400.0),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        (" 10 s ", 10.0),
        (30, 30.0),
        (2.5, 2.5),
        (0, 0.0),
        ("5", 5.0),  # a bare number is seconds, as in lockstep.yaml
    ],
)
def test_parse_duration(raw: str | float, seconds: float) -> None:
    assert parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["", "soon", "5 minutes", "m5", "-5m", "5w", "1h30m", "5M"])
def test_parse_duration_refuses_garbage(raw: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(raw)


def test_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert config_path() is None

    (tmp_path / ".lockstep").mkdir()
    write(tmp_path / ".lockstep", "{}\n")
    assert config_path() == tmp_path / ".lockstep" / "lockstep-server.yaml"  # absolute

    write(tmp_path, "{}\n")
    assert config_path() == tmp_path / "lockstep-server.yaml"

    explicit = tmp_path / "elsewhere.yaml"
    monkeypatch.setenv("LOCKSTEP_CONFIG", str(explicit))
    assert config_path() == explicit  # named explicitly: returned even before it exists
    monkeypatch.setenv("LOCKSTEP_CONFIG", "relative.yaml")
    assert config_path() == tmp_path / "relative.yaml"  # against the working directory


def test_load_settings_follows_lockstep_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "temporal: {namespace: from-cwd}\n")
    explicit = write(tmp_path, "temporal: {namespace: explicit}\n", name="explicit.yaml")
    assert load_settings().temporal.namespace == "from-cwd"
    monkeypatch.setenv("LOCKSTEP_CONFIG", str(explicit))
    assert load_settings().temporal.namespace == "explicit"
    monkeypatch.setenv("LOCKSTEP_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_settings()


def test_a_relative_policy_path_is_found_beside_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "etc" / "lockstep-server.yaml"
    (tmp_path / "etc" / "rules").mkdir(parents=True)
    config.write_text("policy: {engine: embedded, path: rules}\n")
    monkeypatch.chdir(tmp_path)

    assert load_settings(config).policy.path == str((tmp_path / "etc" / "rules").resolve())


def test_a_missing_policy_path_is_taken_against_the_config_folder_so_the_engine_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "etc" / "lockstep-server.yaml"
    config.parent.mkdir()
    config.write_text("policy: {engine: embedded, path: nowhere}\n")
    monkeypatch.chdir(tmp_path)

    assert load_settings(config).policy.path == str((tmp_path / "etc" / "nowhere").resolve())


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("deployment: {activity_timeout: 3000000d}", "deployment.activity_timeout", "maximum 12h"),
        (
            "deployment: {heartbeat_timeout: 1h}",
            "deployment.heartbeat_timeout",
            "1h is longer than the maximum 10m",
        ),
        (
            "deployment: {command_timeout: 0s}",
            "deployment.command_timeout",
            "0s is shorter than the minimum 1s",
        ),
        ("deployment: {max_output_bytes: 1073741824}", "deployment.max_output_bytes", "1048576"),
        ("drift: {interval: 5s}", "drift.interval", "5s is shorter than the minimum 30s"),
        (
            "repositories: [{url: /srv/git/a, poll_interval: 30d}]",
            "repositories.0.poll_interval",
            "maximum 7d",
        ),
        (
            "targets: {vms: {type: ssh, hosts: [a], user: u, connect_timeout: 1000000000000}}",
            "targets.vms.ssh.connect_timeout",
            "maximum 5m",
        ),
        (
            "targets: {vms: {type: ssh, hosts: [a], user: u, io_timeout: 2h}}",
            "targets.vms.ssh.io_timeout",
            "1h",
        ),
        (
            "targets: {vms: {type: ssh, hosts: [a], user: u, keepalive: 1d}}",
            "targets.vms.ssh.keepalive",
            "10m",
        ),
        ("targets: {vms: {type: ssh, hosts: [a], user: u, batch: 100000}}", "targets.vms.ssh.batch", "1000"),
        ("temporal: {shutdown_timeout: 13h}", "temporal.shutdown_timeout", "maximum 12h"),
        ("temporal: {metrics_listen: 'localhost:9464'}", "temporal.metrics_listen", "IP address and port"),
        ("temporal: {metrics_listen: '127.0.0.1'}", "temporal.metrics_listen", "host:port"),
        (
            "targets: {vms: {type: ssh, hosts: [a], user: u, keep_releases: 1000}}",
            "targets.vms.ssh.keep_releases",
            "100",
        ),
    ],
)
def test_a_value_past_its_bound_is_refused_naming_file_and_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert str(path) in message and f"{key}: " in message and fragment in message, message
    assert "Value error" not in message


def test_a_count_past_its_bound_is_refused(tmp_path: Path) -> None:
    hosts = ", ".join(f"h{i}" for i in range(1001))
    path = write(tmp_path, f"targets: {{vms: {{type: ssh, hosts: [{hosts}], user: u}}}}\n")
    with pytest.raises(ConfigError, match=r"targets\.vms\.ssh\.hosts: .*at most 1000"):
        load_settings(path)


def test_a_bound_applies_to_environment_overrides_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKSTEP_DEPLOYMENT__ACTIVITY_TIMEOUT", "99999999999999d")
    with pytest.raises(ConfigError, match=r"deployment\.activity_timeout: .*maximum 12h"):
        load_settings(write(tmp_path, "{}\n"))


def test_worker_metrics_and_shutdown_defaults_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = load_settings(write(tmp_path, "{}\n")).temporal
    assert (defaults.metrics_listen, defaults.shutdown_timeout) == ("127.0.0.1:9464", timedelta(minutes=10))
    # An environment variable cannot say null: empty turns the metrics off.
    monkeypatch.setenv("LOCKSTEP_TEMPORAL__METRICS_LISTEN", "")
    monkeypatch.setenv("LOCKSTEP_TEMPORAL__SHUTDOWN_TIMEOUT", "0s")
    overridden = load_settings(write(tmp_path, "temporal: {metrics_listen: '[::]:9464'}\n")).temporal
    assert (overridden.metrics_listen, overridden.shutdown_timeout) == (None, timedelta(0))
    monkeypatch.delenv("LOCKSTEP_TEMPORAL__METRICS_LISTEN")
    assert load_settings(
        write(tmp_path, "temporal: {metrics_listen: '[::]:9464'}\n")
    ).temporal.metrics_listen == ("[::]:9464")


def test_durations_are_parsed_once_and_written_back_as_text(tmp_path: Path) -> None:
    raw = (
        "deployment: {activity_timeout: 90s, heartbeat_timeout: 45}\n"
        "targets: {vms: {type: ssh, hosts: [a], user: u, io_timeout: 1.5}}\n"
    )
    settings = load_settings(write(tmp_path, raw))
    assert settings.deployment.activity_timeout == timedelta(seconds=90)
    assert settings.deployment.heartbeat_timeout == timedelta(seconds=45)
    assert settings.deployment.command_timeout == timedelta(minutes=10)  # the default, parsed too
    vms = settings.targets["vms"]
    assert isinstance(vms, SshTargetSettings) and vms.io_timeout == timedelta(seconds=1.5)
    dumped = settings.model_dump(mode="json")
    assert dumped["deployment"]["activity_timeout"] == "90s"
    assert dumped["targets"]["vms"]["io_timeout"] == "1500ms"
    # What a configuration file written from the settings says reads back the same.
    again = load_settings(write(tmp_path, yaml.safe_dump(dumped)))
    assert again.deployment == settings.deployment and again.targets == settings.targets
