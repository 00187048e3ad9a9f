"""The server configuration's sections that are not targets: Temporal, the API, policy, drift,
deployment timeouts, repositories and users.

Owns one strict pydantic model per concern (`StrictModel`, their base, refuses unknown keys, as the
application manifest does) with the bounds of `lockstep.domain.bounds` and the descriptions
editors show. Deliberately not here: the target settings (`lockstep.settings.targets`), the root
`Settings` object that gathers the sections (`lockstep.settings.server`) and reading the file,
the environment and relative paths (`lockstep.settings.loading`).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lockstep.domain import bounds
from lockstep.domain.durations import default_text


class StrictModel(BaseModel):
    """A settings section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def _host_port(v: str) -> str:
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, e.g. 127.0.0.1:8000, not {v!r}")
    return v


class TemporalSettings(StrictModel):
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


class ApiSettings(StrictModel):
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


class PolicySettings(StrictModel):
    """The Rego policy engine every deployment and drift decision goes through (fails closed)."""

    model_config = ConfigDict(title="policy")

    engine: Literal["embedded", "opa"] = Field(
        "embedded", description="`embedded` evaluates the bundle in-process; `opa` asks an OPA server."
    )
    path: str = Field("policies", description="The policy bundle folder (embedded engine).")
    url: str | None = Field(
        None, description="The OPA server (engine `opa`).", examples=["http://127.0.0.1:8181"]
    )


class DriftSettings(StrictModel):
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


class DeploymentSettings(StrictModel):
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


class RepositorySettings(StrictModel):
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


class UserSettings(StrictModel):
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
