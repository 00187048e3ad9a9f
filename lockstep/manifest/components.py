"""The component of `lockstep.yaml` and its sections: the kind sections, health checks and drift.

Owns `ComponentSpec` (one deployable part, of exactly one kind, `KIND_SECTIONS`), the kind
sections `KubernetesSpec` and `HostSpec` with `FileSpec` (what a release holds and where it goes,
`rendered_dest` judging a `dest` per environment), `HealthModel` with `HttpCheckModel`, and
`DriftSpec`. Deliberately not here: the manifest's root, its environments and the checks across
components (`lockstep.manifest.schema`, then `lockstep.manifest.loader`), the syntax of single
values (`lockstep.manifest.syntax`), and rendering a component for an environment
(`lockstep.manifest.render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from lockstep.domain import bounds
from lockstep.domain.durations import parse_duration
from lockstep.domain.models import ComponentKind
from lockstep.manifest.placeholders import RenderTooLarge, substitute
from lockstep.manifest.syntax import (
    Command,
    DestPath,
    Duration,
    HttpUrlText,
    Name,
    NonEmpty,
    RepoPath,
    StrictSpec,
    UnresolvedDest,
    absolute_dest,
)

# The sections that make a component's kind: exactly one of them per component.
KIND_SECTIONS: tuple[ComponentKind, ...] = ("kubernetes", "host")


class KubernetesSpec(StrictSpec):
    """A `kubernetes` component: objects applied (server-side apply) to a `kubernetes` target."""

    model_config = ConfigDict(title="kubernetes")

    manifests: RepoPath = Field(
        description="A YAML file, or a folder of them, relative to the repository root; "
        "placeholders are rendered in them.",
        examples=["k8s/catalogue"],
    )


class FileSpec(StrictSpec):
    """Files delivered into every release of a `host` component."""

    model_config = ConfigDict(title="file mapping")

    src: RepoPath = Field(
        description="A file or a folder, relative to the repository root.", examples=["web/"]
    )
    dest: DestPath = Field(
        description="The absolute folder on the target; releases go to `<dest>/releases/<commit>` and "
        "`<dest>/current` points at the live one. May hold placeholders; on a `local` target it lies "
        "under the target's root.",
        examples=["/srv/web"],
    )
    render: bool = Field(
        default=True,
        description="false: deliver the files verbatim, `{{ }}` and all (a Vue or Go template, say).",
    )

    def rendered_dest(self, values: Mapping[str, str]) -> str:
        """`dest` for one environment: placeholders substituted, then held to the rules of a
        literal dest, its length included. UnresolvedDest or ValueError otherwise."""
        try:
            # Bounded while substituting: a 64 KiB value is a legal value but no folder, and every
            # dest is split, normalised and compared once per environment.
            out, missing = substitute(self.dest, values, max_chars=bounds.MAX_PATH_CHARS)
        except RenderTooLarge:
            raise ValueError(
                f"dest is longer than the maximum {bounds.MAX_PATH_CHARS} characters once its "
                "placeholders are substituted"
            ) from None
        if missing:
            raise UnresolvedDest(missing)
        return absolute_dest(out)


class HostSpec(StrictSpec):
    """A `host` component: files and commands delivered as releases onto every host of an `ssh`
    target, or under the root folder of a `local` target."""

    model_config = ConfigDict(title="host")

    files: list[FileSpec] = Field(
        default_factory=list,
        max_length=bounds.MAX_FILE_MAPPINGS,
        description="What each release holds: files or folders of the repository and where they go.",
        examples=[[{"src": "web/", "dest": "/srv/web"}]],
    )
    deploy: list[Command] = Field(
        default_factory=list,
        max_length=bounds.MAX_COMMANDS,
        description="Shell commands run in the new release folder after `current` is switched to it "
        "(and again on rollback, in the previous release).",
        examples=[["systemctl restart web"]],
    )


class HttpCheckModel(StrictSpec):
    """One HTTP GET that must answer the expected status (redirects are not followed)."""

    model_config = ConfigDict(title="http check")

    url: HttpUrlText = Field(
        description="An absolute http:// or https:// URL; may hold placeholders.",
        examples=["http://localhost:8080/healthz"],
    )
    status: int = Field(default=200, ge=100, le=599, description="The status expected, exactly.")
    timeout: Annotated[Duration, bounds.HTTP_CHECK_TIMEOUT.validator()] = Field(
        default="5s", description="For one request. " + bounds.HTTP_CHECK_TIMEOUT.described
    )

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)


class HealthModel(StrictSpec):
    """How Lockstep knows a deployed component is healthy; checks repeat until all pass or the
    timeout ends, and a component that never becomes healthy fails the deployment."""

    model_config = ConfigDict(title="health")

    commands: list[Command] = Field(
        default_factory=list,
        max_length=bounds.MAX_COMMANDS,
        description="Shell commands run in the new release of a `host` component; each must exit 0.",
        examples=[["curl -fsS http://localhost:8080/healthz"]],
    )
    http: list[HttpCheckModel] = Field(
        default_factory=list,
        max_length=bounds.MAX_HTTP_CHECKS,
        description="HTTP checks, each answering its expected status.",
    )
    timeout: Annotated[Duration, bounds.HEALTH_TIMEOUT.validator()] = Field(
        default="2m",
        description="How long the component has to become healthy (Kubernetes rollouts included). "
        + bounds.HEALTH_TIMEOUT.described,
        examples=["5m"],
    )
    interval: Annotated[Duration, bounds.HEALTH_INTERVAL.validator()] = Field(
        default="2s",
        description="The pause between two rounds of checks; no longer than `timeout` when written. "
        + bounds.HEALTH_INTERVAL.described,
    )

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)


def _one_kind_section(schema: dict[str, Any]) -> None:
    # `oneOf` over the kind sections as mappings, so that an explicit `host: null` is no section.
    schema["oneOf"] = [{"required": [k], "properties": {k: {"type": "object"}}} for k in KIND_SECTIONS]


class DriftSpec(StrictSpec):
    """What the drift sweep leaves alone for this component."""

    model_config = ConfigDict(title="drift")

    ignore: list[NonEmpty] = Field(
        default_factory=list,
        max_length=100,
        description="Differences the drift sweep records as ignored: a host file's path on the host "
        "(`/srv/web/status.txt`), a Kubernetes object (`Deployment/shop/web`) or one field of it "
        "(`Deployment/shop/web:spec.replicas`), or the field alone (`spec.replicas`); globs (`*`, `?`, "
        "`[...]`) match too.",
        examples=[["/srv/web/cache/*", "spec.replicas"]],
    )


class ComponentSpec(StrictSpec):
    """One deployable part of the application, of exactly one kind: `kubernetes` or `host`."""

    model_config = ConfigDict(title="component", json_schema_extra=_one_kind_section)

    name: Name = Field(
        description="The component's name, unique in the file: 1-63 letters, digits, '-', '_' or '.'.",
        examples=["catalogue"],
    )
    target: NonEmpty = Field(
        description="The logical target it deploys to, bound to a real one by every environment's `targets`.",
        examples=["cluster"],
    )
    depends_on: list[Name] = Field(
        default_factory=list,
        max_length=bounds.MAX_DEPENDS_ON,
        description="Components that must be deployed and healthy before this one starts; no cycles.",
        examples=[["catalogue-db"]],
    )
    kubernetes: KubernetesSpec | None = Field(
        default=None, description="Makes this a `kubernetes` component."
    )
    host: HostSpec | None = Field(default=None, description="Makes this a `host` component.")
    health: HealthModel | None = Field(default=None, description="Health checks after each deploy.")
    drift: DriftSpec | None = Field(
        default=None, description="What the drift sweep ignores for this component (docs/drift.md)."
    )

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ComponentSpec:
        kinds = [k for k in KIND_SECTIONS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = "both 'kubernetes' and 'host'" if kinds else "neither 'kubernetes' nor 'host'"
            raise ValueError(f"component '{self.name}' has {found}: give exactly one kind section")
        return self

    @property
    def kind(self) -> ComponentKind:
        return "kubernetes" if self.kubernetes is not None else "host"
