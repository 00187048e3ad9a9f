"""Retry policies give up on exactly the errors their classes call permanent, by class name."""

from __future__ import annotations

from lockstep.domain import errors
from lockstep.domain.retryability import (
    deployment_non_retryable,
    non_retryable_types,
    promotion_non_retryable,
)


def test_the_deployment_list_is_the_one_recorded_histories_carry() -> None:
    # In the ScheduleActivityTask attributes of every saved history: same names, same order.
    assert deployment_non_retryable() == [
        "ManifestError",
        "CycleError",
        "ConfigError",
        "DeploymentStepFailed",
        "HealthCheckFailed",
        "ContentMismatch",
    ]


def test_the_promotion_list_is_the_one_recorded_histories_carry() -> None:
    assert promotion_non_retryable() == ["ConfigError", "ManifestError"]


def test_a_class_that_declares_itself_retryable_is_left_out() -> None:
    assert non_retryable_types(errors.TargetUnreachable, errors.ConfigError) == ["ConfigError"]


def test_every_listed_name_is_a_permanent_lockstep_error_of_the_domain() -> None:
    for name in {*deployment_non_retryable(), *promotion_non_retryable()}:
        error = getattr(errors, name)
        assert issubclass(error, errors.LockstepError) and not error.retryable
