"""One place for the fuzz suites' hypothesis settings: deterministic (a fixed seed per test, no
example database, so CI runs the same examples every time) and bounded by `max_examples`, which
each suite sets so that all of tests/fuzz stays near 40 seconds on one core."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )
