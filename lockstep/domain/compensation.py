"""How a deployment ends once compensation has run (docs/concepts.md): the rule, apart from the workflow
that gathers its facts, so it is tested without Temporal.

Deliberately does not run rollbacks, nor know about patches: the workflow keeps a deployment that
began under an older rule ending as it always did (`workflow.patched`).
"""

from __future__ import annotations

from collections.abc import Sequence

from lockstep.domain.status import DeploymentStatus

_MESSAGE_CHARS = 1000  # of one component's rollback error in the detail; its steps keep the rest


def compensated_status(*, cancelled: bool, rejected: bool, undone: bool) -> DeploymentStatus:
    """The final status after every rollback succeeded.

    A cancellation or a rejection says so, whatever was undone. Otherwise a deployment that
    changed something, now put back, is `rolled_back`; one whose rollbacks found nothing to undo
    (refused before its first change: an unknown host key, a host it could not reach) `failed`.
    """
    if cancelled:
        return DeploymentStatus.REJECTED if rejected else DeploymentStatus.CANCELLED
    return DeploymentStatus.ROLLED_BACK if undone else DeploymentStatus.FAILED


def rollback_failed_detail(reason: str, failures: Sequence[tuple[str, str]]) -> str:
    """Why a deployment ended `rollback_failed`: its own failure, then each component whose
    rollback failed with that error (which names the hosts it could not put back)."""
    each = "; ".join(f"{component}: {_cut(message)}" for component, message in failures)
    return f"{reason}; rollback failed for {each}"


def _cut(message: str) -> str:
    return message if len(message) <= _MESSAGE_CHARS else message[: _MESSAGE_CHARS - 1] + "…"
