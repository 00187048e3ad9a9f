"""Core domain models shared by manifest, planning, targets, store and workflows.

Models that travel through Temporal (plan, commit info, revisions) are pydantic models so the
pydantic data converter can carry them and fields can be added later without breaking histories.
`RenderedComponent` never travels through Temporal: rendered bytes stay inside activities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from lockstep.domain.status import ComponentAction

ComponentKind = Literal["host", "kubernetes"]


class CommitInfo(BaseModel):
    sha: str
    author: str
    author_email: str
    message: str
    timestamp: str  # ISO 8601 with offset, from the commit's author date
    committer_email: str = ""


class HttpCheck(BaseModel):
    """One HTTP health check: GET `url` from the worker until it answers `status`."""

    url: str  # placeholders already substituted
    status: int = 200
    timeout_seconds: float = 5.0  # per request


class HealthSpec(BaseModel):
    """Health verification after a component is deployed (durations already parsed to seconds).

    `http` checks run after `commands` (host components: on each host) or the objects' health
    (kubernetes components) have passed, each retried until it passes or `timeout_seconds` is up.
    """

    commands: list[str] = Field(default_factory=list)
    http: list[HttpCheck] = Field(default_factory=list)
    timeout_seconds: float = 120.0
    interval_seconds: float = 2.0


class PlannedObject(BaseModel):
    """A Kubernetes object a component applies, and where it lands.

    Field names are Kubernetes' own, so the plan, the policy input and a manifest read alike.
    `namespace` is the one the object will actually use (its `metadata.namespace`, else the
    target's); None for a cluster-scoped kind (`lockstep.domain.kube_scope` says how that is known).
    """

    apiVersion: str  # Kubernetes' spelling, on purpose
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


@dataclass(frozen=True)
class ReleaseTree:
    """Files destined for one `dest` folder on a host: `<dest>/releases/<commit>/<path>`."""

    dest: str  # absolute path on the target, e.g. /srv/web
    files: dict[str, bytes]  # relative posix path -> rendered content


@dataclass(frozen=True)
class RenderedComponent:
    """A component of one environment with every placeholder resolved and its content hashed."""

    name: str
    kind: ComponentKind
    target: str  # logical target name used in the manifest, e.g. "web"
    target_name: str  # server-config target it is bound to in this environment, e.g. "vms-staging"
    depends_on: tuple[str, ...]
    content_hash: str  # sha256 hex over everything that would be delivered
    health: HealthSpec
    releases: tuple[ReleaseTree, ...] = ()  # host components
    deploy_commands: tuple[str, ...] = ()  # host components, run in the new release after the switch
    objects: tuple[dict[str, object], ...] = ()  # kubernetes components, rendered manifests
    images: tuple[str, ...] = field(default=())  # container images referenced (for policy)
    # For policy and the target's namespace limits; none of it is part of `content_hash`.
    target_namespace: str | None = None  # kubernetes components: the target's `namespace`
    placements: tuple[PlannedObject, ...] = ()  # kubernetes components: where each object lands
    # Whose component this is: what a deliverer looks up in the system of record (what was live).
    application: str = ""
    environment: str = ""

    @property
    def dests(self) -> list[str]:
        """Host components: the folders releases go to, as rendered."""
        return [r.dest for r in self.releases]

    @property
    def commands(self) -> list[str]:
        """Host components: deploy, then health commands, as rendered (what runs on the hosts)."""
        return [*self.deploy_commands, *self.health.commands] if self.kind == "host" else []


class PlannedComponent(BaseModel):
    name: str
    kind: ComponentKind
    target: str  # server-config target name
    action: ComponentAction
    reason: str
    content_hash: str
    depends_on: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    previous_commit: str | None = None
    # What policy sees besides images (empty in plans made before they existed):
    target_namespace: str | None = None  # kubernetes: the target's namespace
    objects: list[PlannedObject] = Field(default_factory=list)  # kubernetes
    dests: list[str] = Field(default_factory=list)  # host: release folders
    commands: list[str] = Field(default_factory=list)  # host: deploy, then health commands
    # What delivering it would change on its target, summed over its hosts or cluster
    # (`created`, `configured`, `unchanged`, `deleted`); None when it was not looked at or a
    # location could not be, named in `unreachable` (a host's label, or the cluster's target).
    change_counts: dict[str, int] | None = None
    unreachable: list[str] = Field(default_factory=list)


class Plan(BaseModel):
    """What a deployment will change, wave by wave, and why each component is in it."""

    components: list[PlannedComponent] = Field(default_factory=list)
    waves: list[list[str]] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)

    def component(self, name: str) -> PlannedComponent:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def is_empty(self) -> bool:
        return not self.components


class DeployedRevision(BaseModel):
    """What is live for one component in one environment, per the system of record."""

    component: str
    commit: str
    content_hash: str
    deployment_id: str
