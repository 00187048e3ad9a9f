"""Which deployment a rollback on demand goes back to (`lockstep rollback`, docs/concepts.md).

A deployment that succeeded at commit C left exactly what C renders live: the components it did
not deploy were unchanged by content hash, so C renders them the same. Going back to it is a new
deployment of C. This module picks that deployment from the environment's history and refuses,
naming the reason, when there is none to go back to.

Deliberately does not: read the store, render the commit, or decide whether anything would
change (the plan does, `lockstep.planning.plan.make_plan`). Pure: callers pass the history in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lockstep.domain.errors import LockstepError
from lockstep.domain.status import DeploymentStatus

ROLLBACK_TRIGGER = "rollback"  # the trigger of a deployment a rollback starts (policy: trigger.kind)
# The trigger of a deployment the drift sweep starts to put drifted components back.
REMEDIATION_TRIGGER = "remediation"
# Deployments that promote nothing: a remediation delivers again what is live already (its commit
# was promoted when it first succeeded; promoting it again would retry a failed deployment of it
# further down). A rollback promotes like any success (docs/concepts.md, "Rolling back").
NON_PROMOTING_TRIGGERS = frozenset({REMEDIATION_TRIGGER})


class RollbackRefused(LockstepError):
    """No deployment to go back to, or the one named cannot be gone back to; the message says why."""


@dataclass(frozen=True)
class PastDeployment:
    """A deployment as the history shows it."""

    id: str
    application: str
    environment: str
    commit: str
    status: DeploymentStatus


@dataclass(frozen=True)
class RollbackTarget:
    """What a rollback goes back to: the deployment `to` (its commit) and the one `live` now."""

    to: PastDeployment
    live: PastDeployment


def rollback_target(
    *,
    application: str,
    environment: str,
    succeeded: Sequence[PastDeployment],
    named: PastDeployment | None = None,
    to: str | None = None,
) -> RollbackTarget:
    """The deployment a rollback of (application, environment) goes back to.

    `succeeded` are the environment's successful deployments, the live one (the latest to
    succeed) first. With `to`, `named` is the deployment stored under that id (None if none is):
    it must be a `succeeded` deployment of this application and environment. Without, the newest
    successful deployment before the live one at another commit (one at the live commit would
    put back what is live already).
    """
    where = f"{application}/{environment}"
    if not succeeded:
        raise RollbackRefused(f"{where} has no successful deployment: nothing is live to roll back from")
    live = succeeded[0]
    if to is not None:
        return RollbackTarget(to=_named(where, application, environment, named, to), live=live)
    earlier = next((d for d in succeeded[1:] if d.commit != live.commit), None)
    if earlier is None:
        raise RollbackRefused(
            f"{where} has no successful deployment before the live one ({live.id}) at another commit: "
            "nothing to go back to"
        )
    return RollbackTarget(to=earlier, live=live)


def _named(
    where: str, application: str, environment: str, named: PastDeployment | None, to: str
) -> PastDeployment:
    if named is None:
        raise RollbackRefused(f"no deployment {to!r}")
    if (named.application, named.environment) != (application, environment):
        raise RollbackRefused(
            f"{to} is a deployment of {named.application}/{named.environment}, not of {where}"
        )
    if named.status != DeploymentStatus.SUCCEEDED:
        raise RollbackRefused(
            f"{to} is {named.status.value}, not succeeded: only a deployment that succeeded left a "
            "revision live to go back to"
        )
    return named
