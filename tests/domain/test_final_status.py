"""How a deployment ends, as the Deployment workflow decides it, without Temporal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockstep.domain import final_status
from lockstep.domain.final_status import Ending
from lockstep.domain.status import FINAL_STATUSES, DeploymentStatus


def test_before_any_change_a_cancel_says_when_and_a_failure_says_why() -> None:
    assert final_status.stopped_before_changes(cancelled=True, when="while queued", failure="x") == Ending(
        DeploymentStatus.CANCELLED, "cancelled while queued"
    )
    assert final_status.stopped_before_changes(cancelled=False, when="before any change", failure="boom") == (
        Ending(DeploymentStatus.FAILED, "boom")
    )


def test_the_simple_endings() -> None:
    assert final_status.succeeded() == (DeploymentStatus.SUCCEEDED, None)
    assert final_status.superseded("dep-2") == (DeploymentStatus.SUPERSEDED, "superseded by dep-2")
    assert final_status.denied("promote_from: staging") == (DeploymentStatus.DENIED, "promote_from: staging")
    assert final_status.quorum_unreachable("nobody") == (DeploymentStatus.REJECTED, "nobody")
    assert final_status.policy_kept_raising(4) == (
        DeploymentStatus.DENIED,
        "the policy kept raising approvals_required (4)",
    )


def test_policy_denials_say_when() -> None:
    assert final_status.policy_denied(["a", "b"], after_approval=False) == (
        DeploymentStatus.DENIED,
        "denied by policy: a; b",
    )
    assert final_status.policy_denied(["a"], after_approval=True) == (
        DeploymentStatus.DENIED,
        "denied by policy after approval: a",
    )


def test_a_rejection_names_who_when_and_their_comment() -> None:
    assert final_status.rejected("carol", "") == (DeploymentStatus.REJECTED, "rejected by carol")
    assert final_status.rejected("carol", "not today") == (
        DeploymentStatus.REJECTED,
        "rejected by carol: not today",
    )
    assert (
        final_status.rejected("carol", "no", "while deploying").reason
        == "rejected by carol while deploying: no"
    )


@pytest.mark.parametrize(
    ("seconds", "shown"), [(86400, "1d"), (7200, "2h"), (90, "90s"), (120, "2m"), (0.5, "0.5s")]
)
def test_an_approval_timeout_names_the_timeout_and_the_count(seconds: float, shown: str) -> None:
    assert final_status.approvals_timed_out(given=1, required=2, timeout_seconds=seconds) == (
        DeploymentStatus.REJECTED,
        f"approval timed out after {shown}: 1 of 2 approvals",
    )


class _Boom(Exception):
    pass


def test_an_internal_error_names_the_exception_and_is_cut_when_it_ends_the_run() -> None:
    assert (
        final_status.internal_error(_Boom("bad")) == "internal error in the Deployment workflow: _Boom: bad"
    )
    status, reason = final_status.failed_in_workflow_code(_Boom("x" * 5000))
    assert status == DeploymentStatus.FAILED and reason is not None and len(reason) == 2000


def test_the_reason_compensation_records() -> None:
    steps = [("web", "health failed"), ("api", "None")]
    reason = final_status.compensation_reason
    assert (
        reason(cancelled=True, rejection=None, failed_steps=steps, failure="f", internal=None) == "cancelled"
    )
    assert (
        reason(cancelled=True, rejection=("carol", "no"), failed_steps=steps, failure="f", internal="i")
        == "rejected by carol while deploying: no"
    )
    assert reason(cancelled=False, rejection=None, failed_steps=steps, failure="f", internal="i") == "i"
    assert (
        reason(cancelled=False, rejection=("c", ""), failed_steps=steps, failure="f", internal=None)
        == "web: health failed; api: None"
    )
    assert reason(cancelled=False, rejection=None, failed_steps=[], failure="f", internal=None) == "f"


def test_a_failed_rollback_wins_over_everything() -> None:
    for cancelled in (True, False):
        ending = final_status.after_compensation(
            "r", [("web", "down")], cancelled=cancelled, rejected=True, undone=True, nothing_to_undo=True
        )
        assert ending == (DeploymentStatus.ROLLBACK_FAILED, "r; rollback failed for web: down")


def test_nothing_to_undo_fails_since_the_patch_and_rolled_back_before() -> None:
    def after(patch: bool) -> Ending:
        return final_status.after_compensation(
            "r", [], cancelled=False, rejected=False, undone=False, nothing_to_undo=patch
        )

    assert after(True) == (DeploymentStatus.FAILED, "r")
    assert after(False) == (DeploymentStatus.ROLLED_BACK, "r")


def test_a_rejection_while_deploying_says_it_was_rolled_back() -> None:
    ending = final_status.after_compensation(
        "rejected by carol while deploying",
        [],
        cancelled=True,
        rejected=True,
        undone=True,
        nothing_to_undo=True,
    )
    assert ending == (DeploymentStatus.REJECTED, "rejected by carol while deploying; rolled back")


@given(
    failures=st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=3),
    cancelled=st.booleans(),
    rejected=st.booleans(),
    undone=st.booleans(),
)
def test_the_patch_changes_only_a_failure_that_undid_nothing(
    failures: list[tuple[str, str]], cancelled: bool, rejected: bool, undone: bool
) -> None:
    """The workflow asks Temporal about `nothing-to-undo` only when the answers differ, which is
    exactly where it asked before the rule moved here: no rollback failed, nothing cancelled,
    nothing undone."""
    new, old = (
        final_status.after_compensation(
            "r", failures, cancelled=cancelled, rejected=rejected, undone=undone, nothing_to_undo=patch
        )
        for patch in (True, False)
    )
    assert (new != old) == (not failures and not cancelled and not undone)
    assert new.status in FINAL_STATUSES and old.status in FINAL_STATUSES
    assert new.reason is not None and new.reason.startswith("r")


def test_only_a_success_promotes() -> None:
    assert final_status.promotions_after(DeploymentStatus.SUCCEEDED, ["prod"]) == ["prod"]
    for status in FINAL_STATUSES - {DeploymentStatus.SUCCEEDED}:
        assert final_status.promotions_after(status, ["prod"]) == []
