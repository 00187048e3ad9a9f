"""Which adapter serves which named target of the server configuration.

Owns the mapping from target settings to connections: every host or none (`connect_hosts`), or
each host on its own (`connect_each`), which tells which host failed and why: a deploy still
needs them all, but says which it could not reach; a rollback puts back those it reaches. It
does not deploy anything.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from lockstep.domain.errors import ConfigError
from lockstep.domain.host_addresses import host_label, parse_address
from lockstep.domain.kube_scope import NamespaceLimits
from lockstep.domain.models import Plan
from lockstep.settings import (
    KubernetesTargetSettings,
    LocalTargetSettings,
    SshTargetSettings,
    TargetSettings,
)
from lockstep.targets.host import HostConnection, HostReach
from lockstep.targets.local import connect_local
from lockstep.targets.ssh import SshConnection, connect_host, connect_ssh

_MAX_PARALLEL_CONNECTS = 16  # as connect_ssh: a large fleet is reached 16 hosts at a time


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

    def refusals(self, plan: Plan) -> list[str]:
        """What the targets' namespace limits refuse of a plan's kubernetes components: the same
        check the delivery makes, asked before approvals are awaited."""
        refused: list[str] = []
        for component in plan.components:
            limits = self.namespace_limits(component.target)
            if limits is not None:
                refused.extend(limits.refusals(component.name, component.objects))
        return refused

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
        raise _not_host_like(name, target)

    def connect_each(
        self,
        name: str,
        hosts: Collection[str] | None = None,
        *,
        interrupt: threading.Event | None = None,
    ) -> list[HostReach]:
        """Try every host of a host-like target (or only those labelled in `hosts`), each on
        its own, in the configured order: one host's failure leaves the others connected.

        A label in `hosts` that the target no longer lists comes back with a `ConfigError`;
        nothing is raised for one host. Closing the connections is the caller's job.
        """
        wanted = None if hosts is None else set(hosts)
        target = self.settings(name)
        if isinstance(target, LocalTargetSettings):
            listed = {"local"}  # the one "host" of a local target, as LocalConnection names it
            reaches = [_local_reach(target, interrupt)] if wanted is None or "local" in wanted else []
        elif isinstance(target, SshTargetSettings):
            addresses = [(ssh_label(target, a), a) for a in target.hosts]
            listed = {label for label, _ in addresses}
            chosen = [(label, a) for label, a in addresses if wanted is None or label in wanted]
            reaches = _connect_ssh_each(target, chosen, interrupt)
        else:
            raise _not_host_like(name, target)
        gone = sorted((wanted or set()) - listed)
        return reaches + [
            HostReach(label, error=ConfigError(f"{label} is no longer a host of target {name!r}"))
            for label in gone
        ]

    def batch_size(self, name: str) -> int:
        target = self.settings(name)
        return target.batch if isinstance(target, SshTargetSettings) else 1

    def keep_releases(self, name: str) -> int:
        target = self.settings(name)
        return target.keep_releases if isinstance(target, SshTargetSettings) else 5


def _not_host_like(name: str, target: TargetSettings) -> ConfigError:
    return ConfigError(
        f"target {name!r} is of type {target.type!r}, which this version of Lockstep cannot "
        "deploy host components to yet (supported: local, ssh)"
    )


def ssh_label(settings: SshTargetSettings, address: str) -> str:
    """The label a connection to `address` will carry (as `connect_host` names it): how steps
    and the journal name the host, known before connecting."""
    return host_label(*parse_address(address, settings.port))


def _connect_ssh_each(
    settings: SshTargetSettings, chosen: list[tuple[str, str]], interrupt: threading.Event | None
) -> list[HostReach]:
    if not chosen:
        return []
    with ThreadPoolExecutor(max_workers=min(_MAX_PARALLEL_CONNECTS, len(chosen))) as pool:
        futures = [
            (label, pool.submit(connect_host, settings, address, interrupt=interrupt))
            for label, address in chosen
        ]
    return [_reach(label, future) for label, future in futures]


def _reach(label: str, future: Future[SshConnection]) -> HostReach:
    error = future.exception()
    if error is None:
        return HostReach(label, connection=future.result())
    if not isinstance(error, Exception):  # KeyboardInterrupt and the like are not a host's state
        raise error
    return HostReach(label, error=error)


def _local_reach(settings: LocalTargetSettings, interrupt: threading.Event | None) -> HostReach:
    try:
        [conn] = connect_local(settings, interrupt=interrupt)
    except Exception as err:  # the root folder cannot be made: this "host" is down
        return HostReach("local", error=err)
    return HostReach(conn.name, connection=conn)
