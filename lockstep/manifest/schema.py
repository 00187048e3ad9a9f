"""The shape of `lockstep.yaml` (SPEC §2) as strict pydantic models.

Owns: field types, defaults, unknown-key rejection (`extra="forbid"`), the syntax of names,
durations and destination paths, the bounds of every duration, count and string
(`lockstep.domain.bounds`), "exactly one kind section per component", unique names,
`promote_from` naming another environment, and what a `dest` must be once its placeholders are
rendered.

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
    model_validator,
)
from pydantic_core import PydanticCustomError

from lockstep.domain import bounds
from lockstep.domain.durations import parse_duration
from lockstep.domain.models import ComponentKind
from lockstep.manifest.placeholders import RenderTooLarge, has_placeholders, substitute

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
PLACEHOLDER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

# The error type the loader recognises as "this problem belongs to ctx['key']".
KEYED_ERROR = "manifest_keyed"


def keyed_error(key: str, message: str) -> PydanticCustomError:
    """A validation error the loader reports under `key` rather than under the model's location."""
    return PydanticCustomError(KEYED_ERROR, "{message}", {"key": key, "message": message})


def _application_name(value: str) -> str:
    if not _LABEL.match(value):
        raise ValueError(
            f"invalid application name '{value}': use 1-63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _name(value: str) -> str:
    if not _NAME.match(value):
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
    if not PLACEHOLDER_NAME.match(value):
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


ApplicationName = Annotated[str, AfterValidator(_application_name)]
Name = Annotated[str, AfterValidator(_name)]
NonEmpty = Annotated[str, _text(bounds.MAX_NAME_CHARS), AfterValidator(_non_empty)]
RepoPath = Annotated[str, _text(bounds.MAX_PATH_CHARS), AfterValidator(_non_empty)]
Command = Annotated[str, _text(bounds.MAX_COMMAND_CHARS), AfterValidator(_non_empty)]
ValueName = Annotated[str, _text(bounds.MAX_NAME_CHARS), AfterValidator(_placeholder_name)]
ValueText = Annotated[str, _text(bounds.MAX_VALUE_CHARS), BeforeValidator(_scalar_to_str)]
Duration = Annotated[str, BeforeValidator(_number_to_duration)]  # each field adds its bounds
DestPath = Annotated[str, _text(bounds.MAX_PATH_CHARS), AfterValidator(_dest_as_written)]
HttpUrlText = Annotated[str, _text(bounds.MAX_URL_CHARS), AfterValidator(_http_url)]  # may hold {{ }}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApprovalsSpec(_Strict):
    required: int = Field(default=1, ge=0, le=bounds.MAX_APPROVALS_REQUIRED)
    groups: list[NonEmpty] = Field(default_factory=list, max_length=bounds.MAX_APPROVAL_GROUPS)
    timeout: Annotated[Duration, bounds.APPROVAL_TIMEOUT.validator()] = "24h"

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)


class EnvironmentSpec(_Strict):
    name: Name
    branch: NonEmpty = "main"
    promote_from: Name | None = None
    targets: dict[NonEmpty, NonEmpty] = Field(default_factory=dict, max_length=bounds.MAX_TARGET_BINDINGS)
    values: dict[ValueName, ValueText] = Field(default_factory=dict, max_length=bounds.MAX_VALUES)
    approvals: ApprovalsSpec | None = None


class KubernetesSpec(_Strict):
    manifests: RepoPath  # a YAML file or a folder of them, relative to the repository root


class FileSpec(_Strict):
    src: RepoPath  # a file or a folder, relative to the repository root
    dest: DestPath  # absolute path on the target, normalised; may hold {{ placeholders }}
    render: bool = True  # False: the files are delivered verbatim, placeholders and all

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
    files: list[FileSpec] = Field(default_factory=list, max_length=bounds.MAX_FILE_MAPPINGS)
    deploy: list[Command] = Field(default_factory=list, max_length=bounds.MAX_COMMANDS)


class HttpCheckModel(_Strict):
    url: HttpUrlText
    status: int = Field(default=200, ge=100, le=599)  # the status expected, exactly
    timeout: Annotated[Duration, bounds.HTTP_CHECK_TIMEOUT.validator()] = "5s"  # per request

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)


class HealthModel(_Strict):
    commands: list[Command] = Field(default_factory=list, max_length=bounds.MAX_COMMANDS)
    http: list[HttpCheckModel] = Field(default_factory=list, max_length=bounds.MAX_HTTP_CHECKS)
    timeout: Annotated[Duration, bounds.HEALTH_TIMEOUT.validator()] = "2m"
    interval: Annotated[Duration, bounds.HEALTH_INTERVAL.validator()] = "2s"

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)


class ComponentSpec(_Strict):
    name: Name
    target: NonEmpty  # logical target name, bound per environment
    depends_on: list[Name] = Field(default_factory=list, max_length=bounds.MAX_DEPENDS_ON)
    kubernetes: KubernetesSpec | None = None
    host: HostSpec | None = None
    health: HealthModel | None = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ComponentSpec:
        kinds = [k for k in ("kubernetes", "host") if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = "both 'kubernetes' and 'host'" if kinds else "neither 'kubernetes' nor 'host'"
            raise ValueError(f"component '{self.name}' has {found}: give exactly one kind section")
        return self

    @property
    def kind(self) -> ComponentKind:
        return "kubernetes" if self.kubernetes is not None else "host"


class Manifest(_Strict):
    application: ApplicationName
    environments: list[EnvironmentSpec] = Field(min_length=1, max_length=bounds.MAX_ENVIRONMENTS)
    components: list[ComponentSpec] = Field(min_length=1, max_length=bounds.MAX_COMPONENTS)

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
