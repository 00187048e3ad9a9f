"""The one delivery contract every component kind implements, and the registry that picks one.

A `Deliverer` owns what a component of its kind places on a target, through five verbs:
- `observe`: the live state of what this component owns, per location of its target (a host, a
  cluster); a location that cannot be reached is reported as such, not raised.
- `diff(desired, live)`: what applying `desired` would change, as one `ChangeSet` per location.
- `apply`: change the target to the desired state and verify its health; returns what changed.
- `verify`: the component's health on its target, as it is now.
- `restore(revision)`: put back what this deployment changed, onto `revision()` (the component
  as it was live before, rendered from its commit on first use; None: there was none); returns
  what changed. A kind that records its own way back (hosts: the release each host was on) may
  not need `revision` at all; rendering an old commit is then never paid for.

Activities, the plan preview and (next) drift call these verbs and never branch on a kind:
adding a kind is one module implementing `Deliverer` plus one line in `lockstep.delivery.kinds`.

Deliberately does not: render commits, plan, or record outcomes beyond the step journal each
deliverer writes through `DeliveryContext.journal_for`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lockstep.domain.changes import ChangeSet
from lockstep.domain.errors import ConfigError
from lockstep.domain.messages import DeploymentTimeouts
from lockstep.domain.models import RenderedComponent

Progress = Callable[[str], None]
Revision = Callable[[], RenderedComponent | None]  # the component as live before, rendered lazily


@dataclass(frozen=True)
class DeliveryContext:
    """Who asks for a delivery and under which limits: one activity attempt for one component."""

    deployment_id: str
    application: str
    environment: str
    repository: str
    commit: str
    timeouts: DeploymentTimeouts = field(default_factory=DeploymentTimeouts)
    progress: Progress = lambda _msg: None
    cancelled: threading.Event | None = None  # set: stop between hosts, objects or polls
    attempt: int = 1  # the activity's attempt: only a retry looks for its own work done
    patience: float = 0.0  # restore: how long to keep trying hosts that cannot be reached
    # The component's deploy commands as an earlier commit defined them (host restore).
    deploy_commands_for: Callable[[str], tuple[str, ...]] = lambda _commit: ()
    # The commit of the component's live revision before this deployment, None without one
    # (host restore: whose deploy commands run again). Asked only when needed.
    previous_commit: Callable[[], str | None] = lambda: None

    @property
    def env(self) -> Mapping[str, str]:
        """LOCKSTEP_* variables for commands run on a target."""
        return {
            "LOCKSTEP_APPLICATION": self.application,
            "LOCKSTEP_ENVIRONMENT": self.environment,
            "LOCKSTEP_COMMIT": self.commit,
            "LOCKSTEP_DEPLOYMENT": self.deployment_id,
        }


class Deliverer(Protocol):
    """The verbs of one component kind (module docstring)."""

    kind: str

    def observe(
        self, component: RenderedComponent, *, with_content: bool = False, since: datetime | None = None
    ) -> Any:
        """The live state of what `component` owns on its target (kind-specific).
        `with_content`: enough of it for `diff(..., with_diff=True)` (a kind that can count
        changes from less, as hosts from checksums, reads content only then). `since`: the
        state may be as it was at any moment since then (a sweep, whose components can share
        what one read of a target answers); None: as it is now."""
        ...

    def diff(self, desired: RenderedComponent, live: Any, *, with_diff: bool = False) -> list[ChangeSet]:
        """One change set per location; `with_diff` fills each change's unified diff."""
        ...

    def apply(self, context: DeliveryContext, component: RenderedComponent) -> list[ChangeSet]: ...

    def verify(self, context: DeliveryContext, component: RenderedComponent) -> str: ...

    def restore(
        self, context: DeliveryContext, component: RenderedComponent, revision: Revision
    ) -> list[ChangeSet]: ...


class Deliverers:
    """Component kind -> its deliverer (built by `lockstep.delivery.kinds.deliverers`)."""

    def __init__(self, by_kind: Mapping[str, Deliverer]) -> None:
        self._by_kind = dict(by_kind)

    def for_kind(self, kind: str) -> Deliverer:
        try:
            return self._by_kind[kind]
        except KeyError:
            known = ", ".join(sorted(self._by_kind)) or "none"
            raise ConfigError(f"no deliverer for component kind {kind!r} (known: {known})") from None

    def kinds(self) -> list[str]:
        return sorted(self._by_kind)
