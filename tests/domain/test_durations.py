"""parse_duration: the syntax, the bounds, and that nothing it accepts can overflow time arithmetic."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockstep.domain import bounds
from lockstep.domain.durations import ANY_DURATION, DurationBounds, parse_duration

HOUR = DurationBounds("1s", "1h")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("3000000d", "3000000d is longer than the maximum 1h"),
        ("61m", "61m is longer than the maximum 1h"),
        ("9" * 60 + "d", "longer than the maximum 1h"),  # far past what timedelta holds
        (float("inf"), "infs is longer than the maximum 1h"),
        (7200, "7200s is longer than the maximum 1h"),
        ("500ms", "500ms is shorter than the minimum 1s"),
        (0, "0s is shorter than the minimum 1s"),
    ],
)
def test_a_duration_outside_its_bounds_names_the_value_and_the_bound(raw: str | float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(raw, HOUR)


def test_the_bounds_themselves_are_inclusive() -> None:
    assert parse_duration("1h", HOUR) == 3600
    assert parse_duration("1s", HOUR) == 1


@pytest.mark.parametrize("raw", [float("nan"), -1, -0.5, True, "1" * 400 + "d", "1e9s", "--5s"])
def test_what_is_not_a_duration_at_all_is_invalid(raw: str | float) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(raw)


def test_without_bounds_the_ceiling_is_a_year() -> None:
    assert parse_duration("366d") == 366 * 86400
    with pytest.raises(ValueError, match="longer than the maximum 366d"):
        parse_duration("367d")


def test_bounds_past_the_ceiling_or_upside_down_cannot_be_declared() -> None:
    with pytest.raises(ValueError):
        DurationBounds("1s", "400d")
    with pytest.raises(ValueError):
        DurationBounds("1h", "1m")


def test_every_declared_bound_sits_under_the_ceiling() -> None:
    declared = [v for v in vars(bounds).values() if isinstance(v, DurationBounds)]
    assert len(declared) >= 10  # the manifest's and the server configuration's
    for b in declared:
        assert dataclasses.is_dataclass(b)
        assert 0 <= b.min_seconds <= b.max_seconds <= ANY_DURATION.max_seconds


@given(
    st.from_regex(r"\s*\d{1,40}(\.\d{1,10})?\s*(ms|s|m|h|d)?\s*", fullmatch=True)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**30), max_value=10**30)
)
def test_whatever_parse_duration_accepts_fits_a_deadline_far_in_the_future(raw: str | float) -> None:
    try:
        seconds = parse_duration(raw)
    except ValueError:
        return
    # What workflows do with a duration: a deadline from now (and a century from now, to spare).
    later = datetime(2126, 1, 1, tzinfo=UTC)
    assert later + timedelta(seconds=seconds) > later - timedelta(seconds=1)
