"""How a deployment ends (docs/concepts.md): its final status and the reason it records.

The Deployment workflow gathers the facts (what failed, whether it was cancelled or rejected,
whether compensation undid anything) and asks here how that ends, so each rule is tested without
Temporal. A rule that changed under a `workflow.patched` guard takes the patch's answer as a
boolean (True for runs that began after it); the workflow asks Temporal only where the answer
differs, as it always has.

Deliberately does not run anything, record anything, or decide when a deployment ends (the
workflow does); `lockstep.domain.compensation` holds the status after every rollback succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from lockstep.domain.approvals import shown_duration
from lockstep.domain.compensation import compensated_status, rollback_failed_detail
from lockstep.domain.status import DeploymentStatus

_INTERNAL_ERROR_CHARS = 2000  # of an internal error's reason when the workflow fails outright


class Ending(NamedTuple):
    """A final status and its reason (None on success); unpacks as (status, reason)."""

    status: DeploymentStatus
    reason: str | None


def succeeded() -> Ending:
    return Ending(DeploymentStatus.SUCCEEDED, None)


def stopped_before_changes(*, cancelled: bool, when: str, failure: str) -> Ending:
    """A deployment that ends before its first change: `cancelled {when}` ("before any change",
    "while planning"), or `failed` with the failure's message."""
    if cancelled:
        return Ending(DeploymentStatus.CANCELLED, f"cancelled {when}")
    return Ending(DeploymentStatus.FAILED, failure)


def superseded(by: str) -> Ending:
    """A queued deployment the lane will never run: a newer commit (`by`, its deployment) goes."""
    return Ending(DeploymentStatus.SUPERSEDED, f"superseded by {by}")


def denied(reason: str) -> Ending:
    """Not allowed at all (promote_from not met, or the rules in force unreadable)."""
    return Ending(DeploymentStatus.DENIED, reason)


def internal_error(err: BaseException) -> str:
    """The reason of a failure in the workflow's own code, naming the exception."""
    return f"internal error in the Deployment workflow: {type(err).__name__}: {err}"


def failed_in_workflow_code(err: BaseException) -> Ending:
    """A failure of the workflow's own code outside the changes: `failed`, the reason cut short."""
    return Ending(DeploymentStatus.FAILED, internal_error(err)[:_INTERNAL_ERROR_CHARS])


def rejected(who: str, comment: str, when: str = "") -> Ending:
    """A counted rejection; `when` as in "while deploying"."""
    return Ending(DeploymentStatus.REJECTED, _rejected_by(who, comment, when))


def _rejected_by(who: str, comment: str, when: str) -> str:
    by = f"rejected by {who}" + (f" {when}" if when else "")
    return by + (f": {comment}" if comment else "")


def compensation_reason(
    *,
    cancelled: bool,
    rejection: tuple[str, str] | None,
    failed_steps: Sequence[tuple[str, str]],
    failure: str,
    internal: str | None,
) -> str:
    """Why the changes stopped, as compensation records it while it runs and the outcome keeps.

    Cancelled: by a rejection (`rejection` is (who, comment)) or by a cancel request. Else the
    failed components with their errors, or the failure's own message when none failed; an
    `internal` error (the waves' own code) names itself instead.
    """
    if cancelled:
        return "cancelled" if rejection is None else _rejected_by(*rejection, "while deploying")
    if internal is not None:
        return internal
    return "; ".join(f"{component}: {error}" for component, error in failed_steps) or failure


def after_compensation(
    reason: str,
    rollback_failures: Sequence[tuple[str, str]],
    *,
    cancelled: bool,
    rejected: bool,
    undone: bool,
    nothing_to_undo: bool,
) -> Ending:
    """The ending once compensation ran: `rollback_failed` naming what could not be put back if
    any rollback failed (component, error); else as `compensated_status` says, a rejection
    saying it was rolled back.

    `nothing_to_undo` is the `nothing-to-undo` patch: before it, a failure whose rollbacks found
    nothing to undo ended `rolled_back` too.
    """
    if rollback_failures:
        return Ending(DeploymentStatus.ROLLBACK_FAILED, rollback_failed_detail(reason, rollback_failures))
    final = compensated_status(cancelled=cancelled, rejected=rejected, undone=undone)
    if final == DeploymentStatus.FAILED and not nothing_to_undo:
        final = DeploymentStatus.ROLLED_BACK
    if final == DeploymentStatus.REJECTED:  # rejected after changes began, now undone
        return Ending(final, f"{reason}; rolled back")
    return Ending(final, reason)


def policy_denied(deny: Sequence[str], *, after_approval: bool) -> Ending:
    """The policy's deny rules fired, at plan time or after the approvals."""
    when = " after approval" if after_approval else ""
    return Ending(DeploymentStatus.DENIED, f"denied by policy{when}: " + "; ".join(deny))


def policy_kept_raising(required: int) -> Ending:
    """Every round of approvals met, the policy asked for more each time: a deny."""
    return Ending(DeploymentStatus.DENIED, f"the policy kept raising approvals_required ({required})")


def quorum_unreachable(why: str) -> Ending:
    """Too few people may approve (`lockstep.domain.approvals.unreachable_quorum` says why)."""
    return Ending(DeploymentStatus.REJECTED, why)


def approvals_timed_out(*, given: int, required: int, timeout_seconds: float) -> Ending:
    """The approval timeout passed before the quorum was met."""
    return Ending(
        DeploymentStatus.REJECTED,
        f"approval timed out after {shown_duration(timeout_seconds)}: {given} of {required} approvals",
    )


def promotions_after(status: DeploymentStatus, promotions: Sequence[str]) -> list[str]:
    """The environments a deployment promotes to: those of `promote_from`, on success only."""
    return list(promotions) if status == DeploymentStatus.SUCCEEDED else []
