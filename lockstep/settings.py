"""The server configuration (SPEC §3): one validated settings object, grouped by concern.

Loaded from the YAML file named by `LOCKSTEP_CONFIG` (default `lockstep-server.yaml` when it
exists), with every value overridable by `LOCKSTEP_*` environment variables (`__` separates
nesting: `LOCKSTEP_TEMPORAL__ADDRESS`). Secrets are referenced by environment-variable name and
never stored here. Unknown keys are errors, as in the application manifest.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lockstep.domain.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | float | int) -> float:
    """'90s', '5m', '24h', '1d', '500ms' or a number of seconds -> seconds."""
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"invalid duration {value!r}: use a number with ms, s, m, h or d (e.g. 5m)")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2) or "s"]


def _valid_duration(value: object) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: use a number with ms, s, m, h or d (e.g. 5m)")
    parse_duration(value)
    return str(value)


Duration = Annotated[str, BeforeValidator(_valid_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemporalSettings(_Strict):
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "lockstep"


class ApiSettings(_Strict):
    listen: str = "127.0.0.1:8000"
    # Reads (GET /deployments...) answer without a token only when this says so (SPEC §8).
    anonymous_read: bool = False
    # The API's Ed25519 key for signing the approvals it authenticated (docs/security.md).
    # Default `<state_dir>/approval-signing.key`, created 0600 by the API when missing; the
    # worker verifies with the public key, by default that path plus `.pub`.
    approval_key_file: str | None = None
    approval_public_key_file: str | None = None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, e.g. 127.0.0.1:8000, not {v!r}")
        return v

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class PolicySettings(_Strict):
    engine: Literal["embedded", "opa"] = "embedded"
    path: str = "policies"
    url: str | None = None


class DriftSettings(_Strict):
    interval: Duration = "5m"


class DeploymentSettings(_Strict):
    """Timeouts the workflows use; configurable so tests and slow estates can tune them."""

    activity_timeout: Duration = "30m"
    heartbeat_timeout: Duration = "30s"
    command_timeout: Duration = "10m"
    max_output_bytes: int = Field(16384, ge=256)


class RepositorySettings(_Strict):
    url: str
    name: str | None = None
    webhook_secret_env: str | None = None
    poll_interval: Duration | None = None


class LocalTargetSettings(_Strict):
    type: Literal["local"]
    root: str


class SshTargetSettings(_Strict):
    """A fleet of hosts reached over ssh (`lockstep.targets.ssh`, docs/ssh.md).

    `hosts` are `host`, `host:port` or `[v6addr]:port`; `port` applies to those without one.
    Without `key_file` the SSH agent (`SSH_AUTH_SOCK`) authenticates. Host keys are checked
    against `known_hosts` only, never accepted on first use. `io_timeout` bounds one SFTP
    operation; commands use `deployment.command_timeout`.
    """

    type: Literal["ssh"]
    hosts: list[str] = Field(min_length=1)
    user: str
    port: int = Field(22, ge=1, le=65535)
    key_file: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    batch: int = Field(1, ge=1)
    keep_releases: int = Field(5, ge=1)
    connect_timeout: Duration = "10s"
    keepalive: Duration = "15s"
    io_timeout: Duration = "60s"


class KubernetesTargetSettings(_Strict):
    type: Literal["kubernetes"]
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "default"
    force_conflicts: bool = False


TargetSettings = Annotated[
    LocalTargetSettings | SshTargetSettings | KubernetesTargetSettings, Field(discriminator="type")
]


class UserSettings(_Strict):
    groups: list[str] = Field(default_factory=list)
    email: str | None = None
    token_sha256: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOCKSTEP_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    database_url: str = "sqlite:///.lockstep/lockstep.db"
    state_dir: str = ".lockstep"  # mirrors and working files of this server
    api: ApiSettings = Field(default_factory=ApiSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)
    repositories: list[RepositorySettings] = Field(default_factory=list)
    targets: dict[str, TargetSettings] = Field(default_factory=dict)
    users: dict[str, UserSettings] = Field(default_factory=dict)
    # Environment variables whose values are secret: masked in stored and shown command output.
    # Every `*_env` reference above (a repository's `webhook_secret_env`, ...) counts without
    # being listed here.
    secret_env: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats init values, which carry the YAML file's content (see `load_settings`).
        return env_settings, init_settings

    @property
    def mirrors_dir(self) -> Path:
        return Path(self.state_dir) / "mirrors"


def config_path() -> Path | None:
    """The server config file: `LOCKSTEP_CONFIG`, else `./lockstep-server.yaml`, else the one
    `lockstep dev` wrote (`./.lockstep/lockstep-server.yaml`), if they exist."""
    explicit = os.environ.get("LOCKSTEP_CONFIG")
    if explicit:
        return Path(explicit)
    for default in (Path("lockstep-server.yaml"), Path(".lockstep") / "lockstep-server.yaml"):
        if default.exists():
            return default
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the server configuration; a ConfigError names the file and the key."""
    path = path or config_path()
    raw: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"{path}: server configuration not found (LOCKSTEP_CONFIG)")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        raw = loaded
    try:
        settings = Settings(**raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"{path or 'environment'}: {problems}") from e
    return _with_policy_path_resolved(settings, path)


DEFAULT_POLICY_BUNDLE = Path(__file__).resolve().parents[1] / "policies"


def _with_policy_path_resolved(settings: Settings, config_file: Path | None) -> Settings:
    """A relative `policy.path` is looked up beside the config file, then in the working folder;
    the default `policies` also falls back to the bundle shipped beside the package. When none
    exists the path stays as written, and the engine fails closed naming it."""
    written = Path(settings.policy.path).expanduser()
    if written.is_absolute():
        return settings
    candidates = [config_file.parent / written] if config_file is not None else []
    candidates.append(written)
    if settings.policy.path == PolicySettings().path:
        candidates.append(DEFAULT_POLICY_BUNDLE)
    for candidate in candidates:
        if candidate.is_dir():
            policy = settings.policy.model_copy(update={"path": str(candidate.resolve())})
            return settings.model_copy(update={"policy": policy})
    return settings
