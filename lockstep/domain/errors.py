"""Errors that cross module boundaries. Each says whether retrying can help.

Adapters wrap library errors at the boundary into these; activities turn permanent ones into
non-retryable Temporal `ApplicationError`s using `type` = the class name.
"""

from __future__ import annotations


class LockstepError(Exception):
    """Base class. `retryable` tells the activity layer whether a retry may succeed."""

    retryable: bool = False


class ManifestError(LockstepError):
    """A problem in an application's manifest or the files it names, found before anything runs."""

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {message}")


class CycleError(LockstepError):
    """The dependency graph has a cycle; `cycle` lists it with the first node repeated at the end."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle: " + " -> ".join(cycle))


class ConfigError(LockstepError):
    """The server configuration is invalid or names something that does not exist."""


class GitError(LockstepError):
    """A repository or revision cannot be read. Network failures are retryable, bad refs are not."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        self.retryable = retryable
        super().__init__(message)


class TargetUnreachable(LockstepError):
    """A target could not be reached; retrying later may help."""

    retryable = True


class DeploymentStepFailed(LockstepError):
    """A deploy or health command failed on a target. Not retried: the workflow compensates."""


class HealthCheckFailed(DeploymentStepFailed):
    """Health verification did not pass within its timeout."""


class ContentMismatch(LockstepError):
    """The commit renders differently from what was planned (e.g. server config changed).

    Its name is the `ApplicationError` type in recorded histories: keep it.
    """


class PlacementRefused(DeploymentStepFailed):
    """A `kubernetes` target's `namespaces` or `cluster_scoped` setting refuses objects of a
    component; found before anything is applied, and not retried (the manifest or the server
    configuration must change)."""
