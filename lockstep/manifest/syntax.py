"""The syntax of the values `lockstep.yaml` holds: names, durations, paths, URLs and free text.

Owns the annotated string types the manifest models use (`Name`, `ApplicationName`, `NonEmpty`,
`RepoPath`, `Command`, `ValueName`, `ValueText`, `Duration`, `DestPath`, `HttpUrlText`), each with
its validator, its length bound (`lockstep.domain.bounds`) and the pattern the JSON Schema shows;
what a `dest` must be (`absolute_dest`, `UnresolvedDest`); and `StrictSpec`, the base of every
manifest model (unknown keys refused, nothing coerced). Deliberately not here: the sections
themselves (`lockstep.manifest.components`, `lockstep.manifest.schema`) and reading YAML
(`lockstep.manifest.loader`).
"""

from __future__ import annotations

import posixpath
import re
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
)

from lockstep.domain import bounds
from lockstep.manifest.placeholders import has_placeholders

# Each pattern is written so that Python's `re` and the ECMAScript regexes of editors read it alike.
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
PLACEHOLDER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_NOT_BLANK = r"\S"  # what `_non_empty` asks: some character that is not whitespace
_ABSOLUTE_OR_PLACEHOLDER = r"^/|\{\{"  # `_dest_as_written`: judged after rendering when it has {{ }}
_HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"  # `_http_url`: urlsplit reads the scheme in any case


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


class StrictSpec(BaseModel):
    # strict: a YAML string is never read as a number or a boolean (`required: '2'`,
    # `render: 'no'`), as the JSON Schema editors check against says.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
