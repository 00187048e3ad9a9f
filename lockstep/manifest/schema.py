"""The shape of `lockstep.yaml` (docs/manifest.md) as strict pydantic models: the root and environments.

Owns `Manifest` (the application's name, its environments and components, unique names,
`promote_from` naming another environment, a written health interval within its timeout),
`EnvironmentSpec` with its `ApprovalsSpec`, and `keyed_error`: errors that belong to a specific
key carry it in the pydantic error context (`ctx["key"]`, type `KEYED_ERROR`) so the loader can
report it. The descriptions and examples of the fields are the ones editors show: they become the
committed JSON Schema (`lockstep schema manifest`, `lockstep.editor_schemas`), which also carries
every syntax and bound a JSON Schema can express. Every manifest model is importable from here.

Deliberately does not: define a component and its sections (`lockstep.manifest.components`) or
the syntax and bounds of single values, names, durations, `dest` paths (`lockstep.manifest.syntax`);
read files or YAML (see `loader`), check references that span sections (`depends_on`, dependency
and promotion cycles, targets bound in every environment; `loader` does that after the schema so
each error gets a precise key), or touch the repository's files (`render`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from lockstep.domain import bounds
from lockstep.domain.durations import parse_duration
from lockstep.manifest.components import (
    KIND_SECTIONS,
    ComponentSpec,
    DriftSpec,
    FileSpec,
    HealthModel,
    HostSpec,
    HttpCheckModel,
    KubernetesSpec,
)
from lockstep.manifest.syntax import (
    PLACEHOLDER_NAME,
    ApplicationName,
    Duration,
    Name,
    NonEmpty,
    StrictSpec,
    UnresolvedDest,
    ValueName,
    ValueText,
    absolute_dest,
)

# The component models and value syntax live beside this module; re-exported so that importing
# any manifest model from `lockstep.manifest.schema` keeps working.
__all__ = [
    "KEYED_ERROR",
    "KIND_SECTIONS",
    "PLACEHOLDER_NAME",
    "ApprovalsSpec",
    "ComponentSpec",
    "DriftSpec",
    "EnvironmentSpec",
    "FileSpec",
    "HealthModel",
    "HostSpec",
    "HttpCheckModel",
    "KubernetesSpec",
    "Manifest",
    "UnresolvedDest",
    "absolute_dest",
    "keyed_error",
]

# The error type the loader recognises as "this problem belongs to ctx['key']".
KEYED_ERROR = "manifest_keyed"


def keyed_error(key: str, message: str) -> PydanticCustomError:
    """A validation error the loader reports under `key` rather than under the model's location."""
    return PydanticCustomError(KEYED_ERROR, "{message}", {"key": key, "message": message})


class ApprovalsSpec(StrictSpec):
    """Human approval a deployment to this environment waits for, after policy allows it."""

    model_config = ConfigDict(title="approvals")

    required: int = Field(
        default=1,
        ge=0,
        le=bounds.MAX_APPROVALS_REQUIRED,
        description="Approvals from different people needed; the policy's `approvals_required` wins "
        "when larger. 0: none unless the policy asks.",
        examples=[2],
    )
    groups: list[NonEmpty] = Field(
        default_factory=list,
        max_length=bounds.MAX_APPROVAL_GROUPS,
        description="Groups (`users.<name>.groups` in the server configuration) whose members may "
        "approve. An author or committer of a commit being deployed never counts.",
        examples=[["release-managers"]],
    )
    timeout: Annotated[Duration, bounds.APPROVAL_TIMEOUT.validator()] = Field(
        default="24h",
        description="How long to wait for the approvals; past it the deployment ends `rejected`. "
        + bounds.APPROVAL_TIMEOUT.described,
        examples=["24h"],
    )

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)


class EnvironmentSpec(StrictSpec):
    """One environment the application is deployed to (staging, production ...)."""

    model_config = ConfigDict(title="environment")

    name: Name = Field(
        description="The environment's name, unique in the file: 1-63 letters, digits, '-', '_' or '.'.",
        examples=["staging", "production"],
    )
    branch: NonEmpty = Field(
        default="main",
        description="The Git branch whose pushed commits deploy to this environment.",
        examples=["main"],
    )
    promote_from: Name | None = Field(
        default=None,
        description="Another environment: only commits whose deployment succeeded there may deploy "
        "here, whatever started the deployment; a success there promotes the commit here.",
        examples=["staging"],
    )
    targets: dict[NonEmpty, NonEmpty] = Field(
        default_factory=dict,
        max_length=bounds.MAX_TARGET_BINDINGS,
        description="Binds each logical target a component names to a target of the server "
        "configuration. Every component's `target` must be bound here.",
        examples=[{"cluster": "k8s-staging", "web": "vms-staging"}],
    )
    values: dict[ValueName, ValueText] = Field(
        default_factory=dict,
        max_length=bounds.MAX_VALUES,
        description="Values substituted for `{{ name }}` placeholders in this environment; "
        "`application` and `environment` are given. Numbers and booleans are taken as text.",
        examples=[{"replicas": "3", "greeting": "Hello"}],
        json_schema_extra={
            "propertyNames": {"pattern": PLACEHOLDER_NAME.pattern, "maxLength": bounds.MAX_NAME_CHARS}
        },
    )
    approvals: ApprovalsSpec | None = Field(
        default=None, description="Human approval before deploying here; none when absent."
    )


class Manifest(StrictSpec):
    """`lockstep.yaml`, at the root of an application's repository: its environments and its
    components, deployed in dependency order."""

    model_config = ConfigDict(title="lockstep.yaml")

    application: ApplicationName = Field(
        description="The application's name: 1-63 lowercase letters, digits and '-'.", examples=["shop"]
    )
    environments: list[EnvironmentSpec] = Field(
        min_length=1,
        max_length=bounds.MAX_ENVIRONMENTS,
        description="Where the application is deployed, each from a branch.",
    )
    components: list[ComponentSpec] = Field(
        min_length=1, max_length=bounds.MAX_COMPONENTS, description="What is deployed, and in what order."
    )

    @model_validator(mode="after")
    def _unique_names_and_promotions(self) -> Manifest:
        names = [e.name for e in self.environments]
        for section, section_names in (
            ("environments", names),
            ("components", [c.name for c in self.components]),
        ):
            seen: dict[str, int] = {}
            for i, name in enumerate(section_names):
                if name in seen:
                    raise keyed_error(
                        f"{section}[{i}].name",
                        f"duplicate name '{name}' (already used by {section}[{seen[name]}])",
                    )
                seen[name] = i
        for i, env in enumerate(self.environments):
            if env.promote_from is None:
                continue
            if env.promote_from == env.name:
                raise keyed_error(
                    f"environments[{i}].promote_from", f"environment '{env.name}' promotes from itself"
                )
            if env.promote_from not in names:
                raise keyed_error(
                    f"environments[{i}].promote_from",
                    f"environment '{env.name}' promotes from unknown environment '{env.promote_from}' "
                    f"(known: {', '.join(names)})",
                )
        return self

    @model_validator(mode="after")
    def _intervals_within_timeouts(self) -> Manifest:
        for i, comp in enumerate(self.components):
            health = comp.health
            # Only an interval written out is held to this: the default 2s under a 1s timeout is
            # harmless (a wait never outlasts the deadline) and was never the user's choice.
            if health is None or "interval" not in health.model_fields_set:
                continue
            if health.interval_seconds > health.timeout_seconds:
                raise keyed_error(
                    f"components[{i}].health.interval",
                    f"{health.interval} is longer than the health timeout {health.timeout}",
                )
        return self
