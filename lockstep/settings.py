"""The server configuration (docs/configuration.md): one validated settings object, grouped by concern.

Loaded from the YAML file named by `LOCKSTEP_CONFIG` (default `lockstep-server.yaml` when it
exists), with every value overridable by `LOCKSTEP_*` environment variables (`__` separates
nesting: `LOCKSTEP_TEMPORAL__ADDRESS`). Secrets are referenced by environment-variable name and
never stored here. Unknown keys are errors, as in the application manifest, and so is a duration,
size or count past its bound (`lockstep.domain.bounds`), whether it came from the file or from a
variable. `load_settings` makes every relative path absolute, once, against the configuration
file's folder (`lockstep.config_paths` states the rule). The fields' descriptions are the ones
editors show: they become the committed JSON Schema (`lockstep schema server`).
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lockstep.config_paths import absolute, absolute_repository, absolute_sqlite_url
from lockstep.domain import bounds
from lockstep.domain.durations import default_text
from lockstep.domain.errors import ConfigError
from lockstep.domain.host_addresses import check_hosts
from lockstep.domain.kube_scope import DEFAULT_NAMESPACE, NamespaceLimits

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # what Kubernetes accepts as a namespace


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _host_port(v: str) -> str:
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, e.g. 127.0.0.1:8000, not {v!r}")
    return v


class TemporalSettings(_Strict):
    """The Temporal cluster the worker, the API and the CLI use."""

    model_config = ConfigDict(title="temporal", validate_default=True)  # text defaults parsed too

    address: str = Field("localhost:7233", description="The Temporal frontend, host:port.")
    namespace: str = Field("default", description="The Temporal namespace.")
    task_queue: str = Field("lockstep", description="The task queue the worker polls.")
    metrics_listen: str | None = Field(
        "127.0.0.1:9464",
        description="Where the worker serves the Temporal SDK's Prometheus metrics, IP:port; "
        "empty or null: nowhere.",
    )
    shutdown_timeout: Annotated[timedelta, bounds.SHUTDOWN_TIMEOUT.as_timedelta()] = Field(
        default_text("10m"),
        description="How long a stopping worker lets activities in flight finish before it cancels "
        "them (each is then retried on another worker). " + bounds.SHUTDOWN_TIMEOUT.described,
    )

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, v: str | None) -> str | None:
        if not v:  # an environment variable cannot say null: "" can
            return None
        host = _host_port(v).rpartition(":")[0]
        try:  # the SDK binds an address, never a name
            ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        except ValueError:
            raise ValueError(f"expected an IP address and port, e.g. 127.0.0.1:9464, not {v!r}") from None
        return v


class ApiSettings(_Strict):
    """The HTTP API (`lockstep api`)."""

    model_config = ConfigDict(title="api")

    listen: str = Field("127.0.0.1:8000", description="Where the API listens, host:port.")
    anonymous_read: bool = Field(
        False, description="true: reads (GET /deployments, /drift ...) answer without a token."
    )
    # Ed25519: the API signs the approvals it authenticated, the worker verifies (docs/security.md).
    approval_key_file: str | None = Field(
        None,
        description="The API's key for signing the approvals it authenticated; default "
        "`<state_dir>/approval-signing.key`, created (0600) when missing.",
    )
    approval_public_key_file: str | None = Field(
        None, description="The key the worker verifies approvals with; default the key file plus `.pub`."
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        return _host_port(v)

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class PolicySettings(_Strict):
    """The Rego policy engine every deployment and drift decision goes through (fails closed)."""

    model_config = ConfigDict(title="policy")

    engine: Literal["embedded", "opa"] = Field(
        "embedded", description="`embedded` evaluates the bundle in-process; `opa` asks an OPA server."
    )
    path: str = Field("policies", description="The policy bundle folder (embedded engine).")
    url: str | None = Field(
        None, description="The OPA server (engine `opa`).", examples=["http://127.0.0.1:8181"]
    )


class DriftSettings(_Strict):
    """The drift sweep (Temporal Schedule `lockstep-drift-sweep`)."""

    model_config = ConfigDict(title="drift", validate_default=True)  # text defaults parsed too

    interval: Annotated[timedelta, bounds.DRIFT_INTERVAL.as_timedelta()] = Field(
        default_text("5m"),
        description="How often live state is compared with Git. " + bounds.DRIFT_INTERVAL.described,
    )
    enabled: bool = Field(
        True,
        description="false: the schedule is kept but paused, so no sweep runs on its own "
        "(`lockstep drift --sweep-now` and `POST /drift/sweep` still sweep when asked).",
    )
    concurrency: int = Field(
        4,
        ge=1,
        le=bounds.MAX_DRIFT_CONCURRENCY,
        description="Environments one sweep compares at once (each reads all its targets).",
    )


class DeploymentSettings(_Strict):
    """Timeouts the workflows use; configurable so tests and slow estates can tune them."""

    model_config = ConfigDict(title="deployment", validate_default=True)  # text defaults parsed too

    activity_timeout: Annotated[timedelta, bounds.ACTIVITY_TIMEOUT.as_timedelta()] = Field(
        default_text("30m"),
        description="One deploy or rollback activity: delivery to a batch of hosts, commands and "
        "health. " + bounds.ACTIVITY_TIMEOUT.described,
    )
    heartbeat_timeout: Annotated[timedelta, bounds.HEARTBEAT_TIMEOUT.as_timedelta()] = Field(
        default_text("30s"),
        description="An activity silent this long is presumed lost and retried. "
        + bounds.HEARTBEAT_TIMEOUT.described,
    )
    command_timeout: Annotated[timedelta, bounds.COMMAND_TIMEOUT.as_timedelta()] = Field(
        default_text("10m"),
        description="One deploy or health command. " + bounds.COMMAND_TIMEOUT.described,
    )
    lane_check_interval: Annotated[timedelta, bounds.LANE_CHECK_INTERVAL.as_timedelta()] = Field(
        default_text("5m"),
        description="How often a lane checks that its running deployment still lives. "
        + bounds.LANE_CHECK_INTERVAL.described,
    )
    max_output_bytes: int = Field(
        16384,
        ge=bounds.MIN_OUTPUT_BYTES,
        le=bounds.MAX_OUTPUT_BYTES,
        description="Command output kept per step, in bytes.",
    )


class RepositorySettings(_Strict):
    """An application repository this server deploys from."""

    model_config = ConfigDict(title="repository")

    url: str = Field(
        description="Where to clone it from: a URL, file:///..., or a local path.",
        examples=["https://git.example.com/shop.git"],
    )
    name: str | None = Field(
        None,
        description="What webhooks call it (owner/name); they also match by URL.",
        examples=["acme/shop"],
    )
    webhook_secret_env: str | None = Field(
        None,
        description="The environment variable holding the webhook secret (never the secret itself).",
        examples=["SHOP_WEBHOOK_SECRET"],
    )
    poll_interval: Annotated[timedelta, bounds.POLL_INTERVAL.as_timedelta()] | None = Field(
        None,
        description="How often to poll for new commits. Default: every 3m without "
        "`webhook_secret_env`, never with it (set it as a safety net for missed deliveries). "
        + bounds.POLL_INTERVAL.described,
    )


class LocalTargetSettings(_Strict):
    """A folder on the worker's machine: `host` components are delivered under it."""

    model_config = ConfigDict(title="local target")

    type: Literal["local"] = Field(description="The kind of target: a folder on the worker's machine.")
    root: str = Field(description="The folder every `dest` lies under.", examples=["/var/lib/lockstep/local"])


class SshTargetSettings(_Strict):
    """A fleet of hosts reached over ssh (`lockstep.targets.ssh`, docs/ssh.md).

    `hosts` are `host`, `host:port` or `[v6addr]:port`; `port` applies to those without one.
    Without `key_file` the SSH agent (`SSH_AUTH_SOCK`) authenticates. Host keys are checked
    against `known_hosts` only, never accepted on first use. `io_timeout` bounds one SFTP
    operation; commands use `deployment.command_timeout`.
    """

    model_config = ConfigDict(
        title="ssh target",
        validate_default=True,  # text defaults parsed too
        json_schema_extra={
            "description": "A fleet of hosts reached over ssh; `host` components are "
            "delivered to every host, in batches. Host keys are checked against `known_hosts` only."
        },
    )

    type: Literal["ssh"] = Field(description="The kind of target: hosts reached over ssh.")
    hosts: list[str] = Field(
        min_length=1,
        max_length=bounds.MAX_SSH_HOSTS,
        description="`host`, `host:port` or `[v6addr]:port`, each delivered to.",
        examples=[["10.0.0.5", "10.0.0.6:2222"]],
    )
    user: str = Field(description="The user to log in as.", examples=["deploy"])
    port: int = Field(22, ge=1, le=65535, description="The port of hosts that name none.")
    key_file: str | None = Field(
        None, description="The private key; without one the SSH agent (SSH_AUTH_SOCK) authenticates."
    )
    known_hosts: str = Field(
        "~/.ssh/known_hosts",
        description="Host keys are checked against this file, never accepted on first use.",
    )
    batch: int = Field(1, ge=1, le=bounds.MAX_SSH_BATCH, description="Hosts delivered to at once.")
    keep_releases: int = Field(
        5, ge=1, le=bounds.MAX_KEEP_RELEASES, description="Releases kept per `dest`; older ones are pruned."
    )
    connect_timeout: Annotated[timedelta, bounds.SSH_CONNECT_TIMEOUT.as_timedelta()] = Field(
        default_text("10s"),
        description="Connecting to one host. " + bounds.SSH_CONNECT_TIMEOUT.described,
    )
    keepalive: Annotated[timedelta, bounds.SSH_KEEPALIVE.as_timedelta()] = Field(
        default_text("15s"),
        description="Between keepalive messages. " + bounds.SSH_KEEPALIVE.described,
    )
    io_timeout: Annotated[timedelta, bounds.SSH_IO_TIMEOUT.as_timedelta()] = Field(
        default_text("60s"), description="One SFTP operation. " + bounds.SSH_IO_TIMEOUT.described
    )

    @model_validator(mode="after")
    def _hosts_are_addresses(self) -> SshTargetSettings:
        try:
            check_hosts(self.hosts, self.port)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return self


class KubernetesTargetSettings(_Strict):
    """A cluster reached through the `kubernetes` client (`lockstep.targets.kubernetes`,
    docs/kubernetes.md).

    `namespace` is given to namespaced objects that name none. `namespaces`, when set, are the only
    namespaces components may put objects in (it must hold `namespace`); unset, any namespace goes,
    as far as the target is concerned (the policy may still refuse). `cluster_scoped: false`
    refuses cluster-scoped objects (ClusterRole, CustomResourceDefinition, Namespace ...). Both are
    checked before anything of a component is applied.
    """

    model_config = ConfigDict(
        title="kubernetes target",
        json_schema_extra={
            "description": "A cluster reached through the Kubernetes API; `kubernetes` "
            "components are applied there (server-side apply, field manager `lockstep`)."
        },
    )

    type: Literal["kubernetes"] = Field(description="The kind of target: a Kubernetes cluster.")
    kubeconfig: str | None = Field(
        None, description="The kubeconfig file; default: the client's own lookup (KUBECONFIG, in-cluster)."
    )
    context: str | None = Field(None, description="The kubeconfig context; default: its current one.")
    namespace: str = Field(DEFAULT_NAMESPACE, description="For namespaced objects that name none.")
    namespaces: list[Annotated[str, Field(pattern=_DNS_LABEL)]] | None = Field(
        None,
        max_length=bounds.MAX_TARGET_NAMESPACES,
        description="The only namespaces components may use (must hold `namespace`); null: any.",
    )
    cluster_scoped: bool = Field(
        True, description="false: refuse cluster-scoped objects (ClusterRole, Namespace, CRDs ...)."
    )
    force_conflicts: bool = Field(
        False, description="true: take over fields another field manager owns (server-side apply force)."
    )

    @model_validator(mode="after")
    def _namespaces_hold_the_namespace(self) -> KubernetesTargetSettings:
        if self.namespaces is not None and self.namespace not in self.namespaces:
            raise ValueError(
                f"namespaces [{', '.join(self.namespaces)}] must include the target's namespace "
                f"{self.namespace!r} "
                "(objects that name no namespace go there); add it, or set namespace to one of them"
            )
        return self

    def limits(self, name: str) -> NamespaceLimits:
        """This target's namespace limits, for the target called `name` in the configuration."""
        namespaces = tuple(self.namespaces) if self.namespaces is not None else None
        return NamespaceLimits(name, self.namespace, namespaces, self.cluster_scoped)


TargetSettings = Annotated[
    LocalTargetSettings | SshTargetSettings | KubernetesTargetSettings, Field(discriminator="type")
]


class UserSettings(_Strict):
    """A person who uses the API or the CLI, and may approve."""

    model_config = ConfigDict(title="user")

    groups: list[str] = Field(
        default_factory=list,
        max_length=bounds.MAX_USER_GROUPS,
        description="Groups, as named in a manifest's `approvals.groups`.",
        examples=[["release-managers"]],
    )
    email: str | None = Field(
        None,
        description="Matched against commit authors and committers: nobody approves their own change.",
        examples=["alice@example.com"],
    )
    token_sha256: str | None = Field(
        None, description="The hex SHA-256 of the user's API token (the token itself is never stored)."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOCKSTEP_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    temporal: TemporalSettings = Field(default_factory=TemporalSettings)
    database_url: str = Field(
        "sqlite:///.lockstep/lockstep.db",
        description="The system of record: a SQLite URL, or postgresql+psycopg://user@host/db.",
    )
    state_dir: str = Field(".lockstep", description="Git mirrors and working files of this server.")
    api: ApiSettings = Field(default_factory=ApiSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    deployment: DeploymentSettings = Field(default_factory=DeploymentSettings)
    repositories: list[RepositorySettings] = Field(
        default_factory=list,
        max_length=bounds.MAX_REPOSITORIES,
        description="The repositories deployed from.",
    )
    targets: dict[str, TargetSettings] = Field(
        default_factory=dict,
        max_length=bounds.MAX_TARGETS,
        description="Where components land, by name (what environments bind their logical targets to).",
    )
    users: dict[str, UserSettings] = Field(
        default_factory=dict, max_length=bounds.MAX_USERS, description="Who may use the API, by name."
    )
    # Every `*_env` reference above (a repository's `webhook_secret_env`, ...) counts without
    # being listed here.
    secret_env: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list,
        max_length=1000,
        description="Environment variables whose values are secret: masked in stored and shown command "
        "output (every `*_env` reference counts without being listed).",
    )

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
    """The server config file, absolute: `LOCKSTEP_CONFIG`, else `./lockstep-server.yaml`, else the
    one `lockstep dev` wrote (`./.lockstep/lockstep-server.yaml`), if they exist."""
    explicit = os.environ.get("LOCKSTEP_CONFIG")
    if explicit:
        return Path(explicit).expanduser().absolute()
    for default in (Path("lockstep-server.yaml"), Path(".lockstep") / "lockstep-server.yaml"):
        if default.exists():
            return default.absolute()
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the server configuration; a ConfigError names the file and the key.

    Every relative path in it is made absolute here, once (`lockstep.config_paths` says how),
    so that every command finds the same files whatever its working directory.
    """
    path = path or config_path()
    if path is not None:
        path = path.expanduser().absolute()
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
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {_cause(err['msg'])}" for err in e.errors()
        )
        raise ConfigError(f"{path or 'environment'}: {problems}") from e
    return with_paths_resolved(settings, path.parent if path is not None else Path.cwd())


def _cause(message: str) -> str:
    return message.removeprefix("Value error, ")


DEFAULT_POLICY_BUNDLE = Path(__file__).resolve().parents[1] / "policies"


def with_paths_resolved(settings: Settings, base: Path) -> Settings:
    """`settings` with every relative path taken against `base`, the configuration file's folder
    (the working directory without one): state_dir, a SQLite database_url, repositories given as
    local paths, local roots, ssh key_file and known_hosts, kubeconfig files, the API's approval
    key files and policy.path."""
    targets: dict[str, TargetSettings] = {}
    for name, target in settings.targets.items():
        if isinstance(target, LocalTargetSettings):
            target = target.model_copy(update={"root": absolute(target.root, base)})
        elif isinstance(target, SshTargetSettings):
            key_file = absolute(target.key_file, base) if target.key_file is not None else None
            known_hosts = absolute(target.known_hosts, base)
            target = target.model_copy(update={"key_file": key_file, "known_hosts": known_hosts})
        elif isinstance(target, KubernetesTargetSettings) and target.kubeconfig is not None:
            target = target.model_copy(update={"kubeconfig": absolute(target.kubeconfig, base)})
        targets[name] = target
    repositories = [
        r.model_copy(update={"url": absolute_repository(r.url, base)}) for r in settings.repositories
    ]
    api = settings.api.model_copy(
        update={
            name: absolute(value, base)
            for name in ("approval_key_file", "approval_public_key_file")
            if (value := getattr(settings.api, name)) is not None
        }
    )
    update = {
        "api": api,
        "state_dir": absolute(settings.state_dir, base),
        "database_url": absolute_sqlite_url(settings.database_url, base),
        "repositories": repositories,
        "targets": targets,
        "policy": _policy_resolved(settings.policy, base),
    }
    return settings.model_copy(update=update)


def _policy_resolved(policy: PolicySettings, base: Path) -> PolicySettings:
    """A relative `policy.path` is looked up in `base`, then in the working folder (the container
    image keeps its bundle in /app/policies while the file is in /etc/lockstep); the default
    `policies` also falls back to the bundle shipped beside the package. When none exists the
    path is taken against `base`, and the engine fails closed naming it."""
    written = Path(policy.path).expanduser()
    if written.is_absolute():
        return policy
    candidates = [base / written, written.absolute()]
    if policy.path == PolicySettings().path:
        candidates.append(DEFAULT_POLICY_BUNDLE)
    found = next((c for c in candidates if c.is_dir()), base / written)
    return policy.model_copy(update={"path": str(found.resolve())})
