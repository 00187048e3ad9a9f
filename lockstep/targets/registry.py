"""Which adapter serves which named target of the server configuration.

Owns the mapping from target settings to connections; it does not deploy anything.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from lockstep.domain.errors import ConfigError
from lockstep.domain.kube_scope import NamespaceLimits
from lockstep.settings import (
    KubernetesTargetSettings,
    LocalTargetSettings,
    SshTargetSettings,
    TargetSettings,
)
from lockstep.targets.host import HostConnection
from lockstep.targets.local import connect_local
from lockstep.targets.ssh import connect_ssh


class TargetRegistry:
    def __init__(self, targets: Mapping[str, TargetSettings]) -> None:
        self._targets = dict(targets)

    def types(self) -> dict[str, str]:
        """Target name -> type, as the manifest renderer checks component kinds against it."""
        return {name: t.type for name, t in self._targets.items()}

    def namespaces(self) -> dict[str, str]:
        """Kubernetes target name -> its namespace, where objects that name none land."""
        return {
            name: t.namespace for name, t in self._targets.items() if isinstance(t, KubernetesTargetSettings)
        }

    def namespace_limits(self, name: str) -> NamespaceLimits | None:
        """What the kubernetes target `name` lets components place; None for other targets."""
        target = self._targets.get(name)
        return target.limits(name) if isinstance(target, KubernetesTargetSettings) else None

    def settings(self, name: str) -> TargetSettings:
        try:
            return self._targets[name]
        except KeyError:
            known = ", ".join(sorted(self._targets)) or "none"
            raise ConfigError(f"no target {name!r} in the server configuration (known: {known})") from None

    def connect_hosts(self, name: str, *, interrupt: threading.Event | None = None) -> list[HostConnection]:
        """One connection per host of a host-like target (local or ssh), in the configured order.
        Setting `interrupt` kills commands still running on them (the deployment was cancelled)."""
        target = self.settings(name)
        if isinstance(target, LocalTargetSettings):
            return list(connect_local(target, interrupt=interrupt))
        if isinstance(target, SshTargetSettings):
            # Every host or none: an unreachable one closes the others and raises (retryable).
            return list(connect_ssh(target, interrupt=interrupt))
        raise ConfigError(
            f"target {name!r} is of type {target.type!r}, which this version of Lockstep cannot "
            "deploy host components to yet (supported: local, ssh)"
        )

    def batch_size(self, name: str) -> int:
        target = self.settings(name)
        return target.batch if isinstance(target, SshTargetSettings) else 1

    def keep_releases(self, name: str) -> int:
        target = self.settings(name)
        return target.keep_releases if isinstance(target, SshTargetSettings) else 5
