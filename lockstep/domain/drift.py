"""Drift: what the sweep found live that differs from what Lockstep last deployed (SPEC §4).

Owns the shapes the sweep, the store, `lockstep drift` and `GET /drift` share: one `DriftItem`
per difference (a file on a host, a field or object on a cluster) with the deployment that last
set its component live, and one `EnvironmentDrift` per (application, environment): `in_sync`,
`drifted` (an item that is not ignored and not resolved) or `unknown` (a target could not be
read; never in sync then). Also the pure rules over them: an item's identity, whether a
manifest's ignore pattern covers it, and how an item that disappeared was resolved.

Deliberately does not: look at targets, ask the policy, or store anything (`lockstep.drift`,
`lockstep.store.drift`). Models travel through Temporal: add fields with defaults only.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

DriftKind = Literal["modified", "missing", "unexpected"]
DriftDecisionName = Literal["remediate", "flag", "ignore"]
DriftState = Literal["in_sync", "drifted", "unknown"]
Resolution = Literal["remediated", "redeployed", "reverted_by_hand"]


class LastDeployment(BaseModel):
    """The deployment that set a component live: what drift is measured against."""

    id: str
    commit: str
    at: str | None = None  # when it finished (ISO 8601, UTC)
    actor: str | None = None


class DriftItem(BaseModel):
    """One difference between live and the last deployed revision."""

    application: str
    environment: str
    component: str
    target: str
    host: str = ""  # the host's label, or "" for kubernetes
    object: str = ""  # Kind/namespace/name for kubernetes
    kind: DriftKind
    path: str = ""  # the file's path on a host (`<dest>/<file>`), or the object's field path
    first_seen: str
    last_seen: str
    last_deployment: LastDeployment | None = None
    decision: DriftDecisionName = "flag"
    remediation: str | None = None  # the remediation deployment's id
    resolved_at: str | None = None
    resolution: str | None = None  # remediated | redeployed | reverted_by_hand

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return item_key(self.component, self.host, self.object, self.path, self.kind)


class EnvironmentDrift(BaseModel):
    """What the last sweep of one environment found."""

    application: str
    environment: str
    state: DriftState
    reason: str | None = None  # why `unknown`: which target could not be read
    pending: list[str] = Field(default_factory=list)  # commits on the branch not live yet
    items: list[DriftItem] = Field(default_factory=list)
    checked_at: str | None = None


def item_key(component: str, host: str, obj: str, path: str, kind: str) -> tuple[str, str, str, str, str]:
    """What makes two sightings the same item: seen again, it keeps its `first_seen`."""
    return (component, host, obj, path, kind)


def ignored(item: DriftItem, patterns: Sequence[str]) -> bool:
    """Whether a manifest ignore pattern (a path, or a glob: `*`, `?`, `[...]`) covers the item:
    its path, its object (`Kind/namespace/name`), or `<object>:<path>` for one field of one object."""
    names = [n for n in (item.path, item.object, f"{item.object}:{item.path}" if item.object else "") if n]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)


def environment_state(items: Sequence[DriftItem], unreachable: Sequence[str]) -> DriftState:
    """`unknown` when anything could not be read, else `drifted` when an open item is not ignored."""
    if unreachable:
        return "unknown"
    open_items = [i for i in items if i.resolved_at is None and i.decision != "ignore"]
    return "drifted" if open_items else "in_sync"


def resolution_for(
    first_seen: str, redeployed_at: str | None, remediated_at: str | None = None
) -> Resolution:
    """How an item no longer seen was resolved: by its remediation deployment, when that
    succeeded after the item was first seen and nothing delivered the component after it; else by
    a deployment of its component that finished after the item was first seen; else by someone
    putting it back by hand."""
    if (
        remediated_at is not None
        and remediated_at > first_seen
        and (redeployed_at is None or redeployed_at <= remediated_at)
    ):
        return "remediated"
    if redeployed_at is not None and redeployed_at > first_seen:
        return "redeployed"
    return "reverted_by_hand"
