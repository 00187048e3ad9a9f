"""The shape of `lockstep.yaml` (docs/manifest.md) as strict pydantic models.

Owns: field types, defaults, unknown-key rejection (`extra="forbid"`), the syntax of names,
durations and destination paths, the bounds of every duration, count and string
(`lockstep.domain.bounds`), "exactly one kind section per component", unique names,
`promote_from` naming another environment, and what a `dest` must be once its placeholders are
rendered. The descriptions and examples of the fields are the ones editors show: they become the
committed JSON Schema (`lockstep schema manifest`, `lockstep.editor_schemas`), which also carries
every syntax and bound a JSON Schema can express.

Deliberately does not: read files or YAML (see `loader`), check references that span sections
(`depends_on`, dependency and promotion cycles, targets bound in every environment; `loader` does
that after the schema so each error gets a precise key), or touch the repository's files
(`render`). Errors that belong to a specific key carry it in the pydantic error context
(`ctx["key"]`) so the loader can report it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lockstep.domain import bounds
from lockstep.domain.durations import parse_duration
from lockstep.domain.models import ComponentKind
from lockstep.manifest.placeholders import RenderTooLarge, has_placeholders, substitute

# Each pattern is written so that Python's `re` and the ECMAScript regexes of editors read it alike.
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
PLACEHOLDER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_NOT_BLANK = r"\S"  # what `_non_empty` asks: some character that is not whitespace
_ABSOLUTE_OR_PLACEHOLDER = r"^/|\{\{"  # `_dest_as_written`: judged after rendering when it has {{ }}
_HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"  # `_http_url`: urlsplit reads the scheme in any case

# The sections that make a component's kind: exactly one of them per component.
KIND_SECTIONS: tuple[ComponentKind, ...] = ("kubernetes", "host")

# The error type the loader recognises as "this problem belongs to ctx['key']".
KEYED_ERROR = "manifest_keyed"


def keyed_error(key: str, message: str) -> PydanticCustomError:
    """A validation error the loader reports under `key` rather than under the model's location."""
    return PydanticCustomError(KEYED_ERROR, "{message}", {"key": key, "message": message})


def _application_name(value: str) -> str:
    if not _LABEL.fullmatch(value):
        raise ValueError(
            f"invalid application name '{value}': use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"invalid name '{value}': use 1-63 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _placeholder_name(value: str) -> str:
    if not PLACEHOLDER_NAME.fullmatch(value):
        raise ValueError(
            f"invalid value name '{value}': a {{{{ placeholder }}}} name starts with a letter or '_' "
            "and contains letters, digits, '_', '.' or '-'"
        )
    return value


def _scalar_to_str(value: Any) -> Any:
    # YAML turns `replicas: 3` into an int and `debug: yes` into a bool; both are meant as text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    got = {type(None): "null", list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)
    raise ValueError(f"a value must be a string, number or boolean, not {got}")


def _number_to_duration(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value}s"
    return value


class UnresolvedDest(ValueError):
    """A `dest` still holds placeholders once the environment's values are substituted."""

    def __init__(self, missing: list[tuple[str, int]]) -> None:
        self.missing = missing
        super().__init__(f"unresolved placeholder {{{{ {missing[0][0]} }}}}")


def absolute_dest(value: str) -> str:
    """A destination folder on a target, normalised (one spelling per folder: `/srv/web/`,
    `//srv/web` and `/srv/./web` are all `/srv/web`); ValueError unless absolute, without `..`
    and not `/` itself."""
    if not value.startswith("/"):
        raise ValueError(f"dest '{value}' must be an absolute path")
    if ".." in value.split("/"):
        raise ValueError(f"dest '{value}' must not contain '..'")
    # normpath keeps exactly two leading slashes (POSIX leaves `//x` implementation-defined); on
    # Linux and under a local root they name `/x`, and `//` alone would otherwise pass for a folder.
    normal = "/" + posixpath.normpath(value).lstrip("/")
    if normal == "/":
        raise ValueError("dest must not be the root folder '/'")
    return normal


def _dest_as_written(value: str) -> str:
    # With placeholders, only the rendered dest can be judged (`{{ base }}/web` may well be
    # absolute); `FileSpec.rendered_dest` applies the same rules to it, per environment.
    return value if has_placeholders(value) else absolute_dest(value)


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as e:
        raise ValueError(f"invalid url '{value}': {e}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url '{value}' must be an absolute http:// or https:// URL")
    return value


def _text(max_chars: int) -> StringConstraints:
    return StringConstraints(max_length=max_chars)


def _shown(pattern: str) -> Any:
    """The pattern a validator checks, for the JSON Schema only: the validator keeps its own message."""
    return Field(json_schema_extra={"pattern": pattern})


ApplicationName = Annotated[str, AfterValidator(_application_name), _shown(_LABEL.pattern)]
Name = Annotated[str, AfterValidator(_name), _shown(_NAME.pattern)]
NonEmpty = Annotated[str, _text(bounds.MAX_NAME_CHARS), AfterValidator(_non_empty), _shown(_NOT_BLANK)]
RepoPath = Annotated[str, _text(bounds.MAX_PATH_CHARS), AfterValidator(_non_empty), _shown(_NOT_BLANK)]
Command = Annotated[str, _text(bounds.MAX_COMMAND_CHARS), AfterValidator(_non_empty), _shown(_NOT_BLANK)]
ValueName = Annotated[str, _text(bounds.MAX_NAME_CHARS), AfterValidator(_placeholder_name)]
ValueText = Annotated[
    str,
    _text(bounds.MAX_VALUE_CHARS),
    BeforeValidator(_scalar_to_str),
    # YAML's `replicas: 3` and `debug: yes` are taken as text, so the schema must take them too.
    WithJsonSchema({"type": ["string", "number", "boolean"], "maxLength": bounds.MAX_VALUE_CHARS}),
]
Duration = Annotated[str, BeforeValidator(_number_to_duration)]  # each field adds its bounds
DestPath = Annotated[
    str, _text(bounds.MAX_PATH_CHARS), AfterValidator(_dest_as_written), _shown(_ABSOLUTE_OR_PLACEHOLDER)
]
HttpUrlText = Annotated[str, _text(bounds.MAX_URL_CHARS), AfterValidator(_http_url), _shown(_HTTP_URL)]


class _Strict(BaseModel):
    # strict: a YAML string is never read as a number or a boolean (`required: '2'`,
    # `render: 'no'`), as the JSON Schema editors check against says.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ApprovalsSpec(_Strict):
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


class EnvironmentSpec(_Strict):
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


class KubernetesSpec(_Strict):
    """A `kubernetes` component: objects applied (server-side apply) to a `kubernetes` target."""

    model_config = ConfigDict(title="kubernetes")

    manifests: RepoPath = Field(
        description="A YAML file, or a folder of them, relative to the repository root; "
        "placeholders are rendered in them.",
        examples=["k8s/catalogue"],
    )


class FileSpec(_Strict):
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


class HostSpec(_Strict):
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


class HttpCheckModel(_Strict):
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


class HealthModel(_Strict):
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


class DriftSpec(_Strict):
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


class ComponentSpec(_Strict):
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


class Manifest(_Strict):
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
