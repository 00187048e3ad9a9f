"""Turning Lockstep errors into Temporal errors that say whether a retry can help."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from lockstep.domain.errors import LockstepError


def to_application_error(err: LockstepError) -> ApplicationError:
    """Permanent errors become non-retryable; the type is the error's class name."""
    return ApplicationError(str(err), type=type(err).__name__, non_retryable=not err.retryable)
