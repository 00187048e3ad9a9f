"""Durations as people write them ('90s', '5m', '24h', '500ms', or a number of seconds).

Owns the syntax, the conversion to seconds and the range a duration must lie in. Every duration
Lockstep reads, from `lockstep.yaml` or the server configuration, goes through `parse_duration`,
so none can be negative, infinite or long enough to overflow `timedelta` or `datetime` arithmetic
in the workflows (`now + 3000000d` would).

Also owns how a duration looks in the JSON Schemas editors read (`json_schema`): the same syntax
as a pattern and the range in seconds, so an editor flags `timeout: soon` as the loader would;
and the `timedelta` a setting holds once parsed (`TimedeltaField`), written back as text.

Deliberately does not: choose the range of any particular setting (`lockstep.domain.bounds`
holds those), or know about pydantic beyond the validator and JSON Schema of one field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

# Written once for both readers: Python's `re` here, ECMAScript regexes in editors (JSON Schema).
SYNTAX_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$"
_SYNTAX = re.compile(SYNTAX_PATTERN)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_LONGEST_TEXT = 64  # no honest duration is written with more characters than this
_HINT = "use a number with ms, s, m, h or d (e.g. 5m)"


def _seconds(value: str | float | int) -> float:
    """Seconds for a syntactically valid duration; may be huge or infinite, never negative."""
    if isinstance(value, bool):  # a YAML `yes` is not a duration
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    if isinstance(value, int | float):
        if math.isnan(value) or value < 0:
            raise ValueError(f"invalid duration {value!r}: {_HINT}")
        return float(value)
    m = _SYNTAX.match(value) if len(value) <= _LONGEST_TEXT else None
    if not m:
        shown = value if len(value) <= _LONGEST_TEXT else value[:_LONGEST_TEXT] + "…"
        raise ValueError(f"invalid duration {shown!r}: {_HINT}")
    # float() of a long digit string gives inf rather than raising; the range check refuses it.
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2) or "s"]


@dataclass(frozen=True)
class DurationBounds:
    """The inclusive range a duration must lie in, written the way the docs and errors show it."""

    minimum: str
    maximum: str

    def __post_init__(self) -> None:
        if not 0 <= self.min_seconds <= self.max_seconds <= _seconds(LONGEST):
            raise ValueError(f"bounds {self.minimum}..{self.maximum} are not within 0s..{LONGEST}")

    @property
    def min_seconds(self) -> float:
        return _seconds(self.minimum)

    @property
    def max_seconds(self) -> float:
        return _seconds(self.maximum)

    def check(self, value: str) -> str:
        """`value` itself if it is a duration within these bounds (a validator); ValueError if not."""
        parse_duration(value, self)
        return value

    def validator(self) -> BoundedDurationField:
        """For a pydantic field: a ValueError naming the value and the bound it breaks, and the
        field's JSON Schema (`json_schema`)."""
        return BoundedDurationField(self)

    def as_timedelta(self) -> TimedeltaField:
        """For a pydantic `timedelta` field: parsed once, within these bounds (`TimedeltaField`)."""
        return TimedeltaField(self)

    @property
    def described(self) -> str:
        """The range in words, for a field's description."""
        return (
            f"A duration from {self.minimum} to {self.maximum}: a number with ms, s, m, h or d "
            "(90s, 5m, 24h), or a bare number of seconds."
        )

    def json_schema(self) -> dict[str, Any]:
        """Text in the syntax above, or a number of seconds in range. The range of a text cannot
        be expressed in JSON Schema: the validator stays the authority on it."""
        text = {"type": "string", "pattern": SYNTAX_PATTERN, "maxLength": _LONGEST_TEXT}
        seconds = {"type": "number", "minimum": _plain(self.min_seconds), "maximum": _plain(self.max_seconds)}
        return {"anyOf": [text, seconds]}


def _plain(seconds: float) -> float | int:
    return int(seconds) if seconds.is_integer() else seconds


@dataclass(frozen=True)
class BoundedDurationField:
    """A pydantic annotation: validates a duration against `bounds` and describes it in JSON Schema."""

    bounds: DurationBounds

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.bounds.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.bounds.json_schema()


@dataclass(frozen=True)
class TimedeltaField:
    """A pydantic annotation for a `timedelta` field (`Annotated[timedelta, bounds.as_timedelta()]`).

    Takes what `BoundedDurationField` takes, exactly: text in the syntax above or a number of
    seconds (read as its text), within `bounds`, or a `timedelta` from Python code. Holds the
    `timedelta`, so no reader parses it again; JSON has it back as text (`format_duration`),
    which reads back the same. Its JSON Schema is the text's (`DurationBounds.json_schema`).
    A default is written as text too (`default_text`), and parsed: `validate_default=True`.
    """

    bounds: DurationBounds

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(_as_text, when_used="json"),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.bounds.json_schema()

    def parse(self, value: object) -> timedelta:
        if isinstance(value, timedelta):
            return timedelta(seconds=parse_duration(value.total_seconds(), self.bounds))
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(f"invalid duration {value!r}: {_HINT}")
        return timedelta(seconds=parse_duration(str(value), self.bounds))


def default_text(text: str) -> Any:
    """The default of a `TimedeltaField`, written as a configuration writes it, which the JSON
    Schema shows; the model parses it (`validate_default=True`). Typed Any: the type checker would
    take the text for the field's value, which is the `timedelta` parsed from it."""
    return text


def _as_text(value: timedelta) -> str:
    return format_duration(value.total_seconds())


def format_duration(seconds: float) -> str:
    """`seconds` in the syntax above, in the largest unit that writes it exactly ('10m', '36h',
    '500ms'); a fraction of a second that is no whole number of ms in decimal seconds ('0.0005s')."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    if seconds == 0:
        return "0s"
    if round(seconds * 1000, 6).is_integer():
        return f"{round(seconds * 1000)}ms"
    return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"


# Longer than any timeout or interval Lockstep has a use for, and far from what `timedelta` and a
# `datetime` a few centuries from now can hold: the ceiling every range sits under.
LONGEST = "366d"
ANY_DURATION = DurationBounds("0s", LONGEST)


def parse_duration(value: str | float | int, bounds: DurationBounds = ANY_DURATION) -> float:
    """'90s', '5m', '24h', '1d', '500ms' or a number of seconds -> seconds, within `bounds`.

    ValueError names the value and the bound it breaks ("3000000d is longer than the maximum 14d").
    """
    seconds = _seconds(value)
    shown = value.strip() if isinstance(value, str) else f"{value:g}s"
    if not seconds <= bounds.max_seconds:  # `not <=` so that inf is refused too
        raise ValueError(f"{shown} is longer than the maximum {bounds.maximum}")
    if seconds < bounds.min_seconds:
        raise ValueError(f"{shown} is shorter than the minimum {bounds.minimum}")
    return seconds
