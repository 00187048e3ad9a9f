"""The identity and shape of Kubernetes objects, shared by delivery, the inventory, health and
drift: `ObjectRef` (group, kind, namespace, name) and `KubeObject`, a `TypedDict` over the JSON
the API server returns, read defensively (a missing field means "not yet").

Deliberately does not: judge health (`lockstep.health.kubernetes`) or talk to a cluster
(`lockstep.targets.kubernetes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identifies an object for apply: API group (not version), kind, namespace, name."""

    api_version: str
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What the API server identifies an object by: a new apiVersion is the same object."""
        return (self.group, self.kind, self.namespace, self.name)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


class Condition(TypedDict, total=False):
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    generation: int
    uid: str
    resourceVersion: str


class KubeObject(TypedDict, total=False):
    """Any object as the API server returns it; `spec` and `status` are read per kind."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: dict[str, Any]
