"""The approval state the Deployment workflow keeps, and its wire shape, without Temporal."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockstep.domain.approvals import (
    ApprovalEntry,
    ApprovalGate,
    ApprovalInput,
    Approver,
    approval_entry,
    policy_approvals,
    refusal,
    shown_duration,
)
from lockstep.domain.status import DeploymentStatus

_ENTRY = ApprovalEntry(
    approver="bob",
    decision="approve",
    at="2026-01-01T00:00:00+00:00",
    comment="ok",
    source="api-token",
    counted=True,
    reason="",
)


def test_the_wire_shape_is_todays_keys_in_order_with_string_values() -> None:
    # What the `status` query of running workflows, the store's view, the API and the CLI carry.
    assert _ENTRY.to_dict() == {
        "approver": "bob",
        "decision": "approve",
        "at": "2026-01-01T00:00:00+00:00",
        "comment": "ok",
        "source": "api-token",
        "counted": "true",
        "reason": "",
    }
    assert list(_ENTRY.to_dict()) == ["approver", "decision", "at", "comment", "source", "counted", "reason"]
    refused = ApprovalEntry(**{**_ENTRY.__dict__, "counted": False})
    assert refused.to_dict()["counted"] == "false"


@given(
    st.builds(
        ApprovalEntry,
        approver=st.text(),
        decision=st.sampled_from(["approve", "reject"]),
        at=st.text(),
        comment=st.text(),
        source=st.sampled_from(["api-token", "temporal-signal"]),
        counted=st.booleans(),
        reason=st.text(),
    )
)
def test_an_entry_survives_its_wire_shape(entry: ApprovalEntry) -> None:
    assert ApprovalEntry.from_dict(entry.to_dict()) == entry
    assert approval_entry(**entry.__dict__) == entry.to_dict()
    assert all(isinstance(v, str) for v in entry.to_dict().values())


def test_an_unrecorded_approval_is_withdrawn_and_a_rejection_stands() -> None:
    withdrawn = _ENTRY.unrecorded("store down")
    assert not withdrawn.counted
    assert withdrawn.reason == "could not be recorded, so it does not count (send it again): store down"
    assert len(_ENTRY.unrecorded("x" * 2000).reason) == 1000
    rejection = ApprovalEntry(**{**_ENTRY.__dict__, "decision": "reject"}).unrecorded("store down")
    assert rejection.counted and rejection.reason == "not recorded: store down"
    refused = ApprovalEntry(**{**_ENTRY.__dict__, "counted": False, "reason": "a duplicate"})
    assert refused.unrecorded("store down") == ApprovalEntry(
        **{**refused.__dict__, "reason": "a duplicate; not recorded: store down"}
    )


def test_the_policy_sees_counted_approvals_less_those_being_recorded() -> None:
    entries = [
        _ENTRY,
        ApprovalEntry(**{**_ENTRY.__dict__, "approver": "eve", "counted": False}),
        ApprovalEntry(**{**_ENTRY.__dict__, "approver": "carol", "decision": "reject"}),
        ApprovalEntry(**{**_ENTRY.__dict__, "approver": "dave", "at": "later"}),
    ]
    assert policy_approvals(entries, recording=[]) == [
        {"approver": "bob", "at": "2026-01-01T00:00:00+00:00"},
        {"approver": "dave", "at": "later"},
    ]
    assert policy_approvals(entries, recording=["dave"]) == [
        {"approver": "bob", "at": "2026-01-01T00:00:00+00:00"}
    ]


_GATE = ApprovalGate(
    required=2,
    groups=["ops"],
    approvers=[Approver(name="bob", email="bob@x"), Approver(name="dave", email="dave@x")],
    author_email="alice@x",
    configured=["alice", "bob", "dave"],
)


def _refusal(decision: str = "approve", who: str = "bob", **state: Any) -> str | None:
    facts: dict[str, Any] = {
        "status": DeploymentStatus.AWAITING_APPROVAL,
        "changing": True,
        "rejected": False,
        "approved_by": [],
        "recording": [],
        "required": 2,
        **state,
    }
    gate = facts.pop("gate", _GATE)
    refused = refusal(
        gate,
        ApprovalInput(approver=who),
        decision=decision,
        deployment_id="dep-1",
        environment="prod",
        **facts,
    )
    return None if refused is None else f"{refused.kind}: {refused}"


def test_a_decision_counts_while_approvals_are_awaited() -> None:
    assert _refusal() is None
    assert _refusal("reject") is None


@pytest.mark.parametrize(
    ("state", "refused"),
    [
        ({"gate": None}, "not_awaiting: dep-1 is not awaiting approval (status awaiting_approval)"),
        (
            {"status": DeploymentStatus.PLANNING},
            "not_awaiting: dep-1 is not awaiting approval (status planning)",
        ),
        ({"rejected": True}, "not_awaiting: dep-1 is already rejected"),
        ({"approved_by": ["dave"], "recording": ["eve"]}, "not_awaiting: dep-1 already has its approvals"),
        ({"approved_by": ["bob"]}, "duplicate: bob has already approved this deployment"),
        ({"recording": ["bob"]}, "duplicate: bob has already approved this deployment"),
    ],
)
def test_an_approval_that_may_not_count_says_why(state: dict[str, Any], refused: str) -> None:
    assert _refusal(**state) == refused


def test_a_rejection_counts_until_the_changes_end() -> None:
    assert _refusal("reject", status=DeploymentStatus.DEPLOYING) is None
    assert _refusal("reject", status=DeploymentStatus.DEPLOYING, changing=False) is not None
    assert _refusal("approve", status=DeploymentStatus.DEPLOYING) is not None
    assert _refusal("reject", approved_by=["bob", "dave"]) is None, "a full quorum does not stop a rejection"


def test_who_may_decide_is_check_decisions_rule() -> None:
    assert _refusal(who="alice") == "not_allowed: alice may not approve prod: not a member of ops"


@pytest.mark.parametrize(("seconds", "shown"), [(86400, "1d"), (90000, "25h"), (61, "61s"), (0.25, "0.25s")])
def test_a_timeout_as_people_read_it(seconds: float, shown: str) -> None:
    assert shown_duration(seconds) == shown
