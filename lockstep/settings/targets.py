"""Where components land: the settings of a `local`, `ssh` or `kubernetes` target.

Owns `LocalTargetSettings`, `SshTargetSettings`, `KubernetesTargetSettings` and `TargetSettings`,
their union discriminated by `type`, with the checks that need no I/O (host addresses, a
namespace allow-list that holds the default namespace). Deliberately not here: connecting to a
target (`lockstep.targets`), and making their relative paths absolute
(`lockstep.settings.loading`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from lockstep.domain import bounds
from lockstep.domain.durations import default_text
from lockstep.domain.errors import ConfigError
from lockstep.domain.host_addresses import check_hosts
from lockstep.domain.kube_scope import DEFAULT_NAMESPACE, NamespaceLimits
from lockstep.settings.sections import StrictModel

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # what Kubernetes accepts as a namespace


class LocalTargetSettings(StrictModel):
    """A folder on the worker's machine: `host` components are delivered under it."""

    model_config = ConfigDict(title="local target")

    type: Literal["local"] = Field(description="The kind of target: a folder on the worker's machine.")
    root: str = Field(description="The folder every `dest` lies under.", examples=["/var/lib/lockstep/local"])


class SshTargetSettings(StrictModel):
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


class KubernetesTargetSettings(StrictModel):
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
