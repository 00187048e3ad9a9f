"""Which failures an activity's retry policy gives up on at once (docs/concepts.md).

Owns the choice of errors per kind of activity; each error class says itself whether a retry may
help (`LockstepError.retryable`), and the names come from the classes, never from strings typed
elsewhere. The names are what `activities.errors.to_application_error` gives a failure as its
type, so Temporal matches them against `RetryPolicy.non_retryable_error_types`.

Deliberately does not build the retry policy (the workflows do: attempts and intervals are theirs)
nor decide anything per instance: an error whose retryability varies (`GitError`) is left to the
activity, which marks that one failure non-retryable.
"""

from __future__ import annotations

from lockstep.domain.errors import (
    ConfigError,
    ContentMismatch,
    CycleError,
    DeploymentStepFailed,
    HealthCheckFailed,
    LockstepError,
    ManifestError,
)

# The Deployment workflow's activities (prepare, deploy and roll back a component): bad manifests,
# failed commands, health that never passed, a commit that renders otherwise than planned.
_DEPLOYMENT = (
    ManifestError,
    CycleError,
    ConfigError,
    DeploymentStepFailed,
    HealthCheckFailed,
    ContentMismatch,
)
# A lane's promotion: a configuration or manifest that names what does not exist.
_PROMOTION = (ConfigError, ManifestError)


def non_retryable_types(*errors: type[LockstepError]) -> list[str]:
    """The type names of those of `errors` that no retry can fix, in the order given.

    A class that declares itself `retryable` is left out: a retry policy that gave up on it would
    contradict the class.
    """
    return [error.__name__ for error in errors if not error.retryable]


def deployment_non_retryable() -> list[str]:
    """`non_retryable_error_types` of the Deployment workflow's activities."""
    return non_retryable_types(*_DEPLOYMENT)


def promotion_non_retryable() -> list[str]:
    """`non_retryable_error_types` of the lane's promote activity."""
    return non_retryable_types(*_PROMOTION)
