"""The rules a deployment answers to: the stricter of its commit's lockstep.yaml and the live one's."""

from __future__ import annotations

from lockstep.domain.rules_in_force import (
    EnvironmentRules,
    approvals_in_force,
    promotion_refusal,
    promotion_sources,
)

GATED = EnvironmentRules(
    promote_from="staging", approvals_required=2, approver_groups=("rm",), approvals_declared=True
)
OPEN = EnvironmentRules()


def test_a_commit_cannot_drop_the_promote_from_in_force() -> None:
    assert promotion_sources(OPEN, GATED) == {"staging": "the lockstep.yaml live in the environment"}
    assert promotion_sources(GATED, None) == {"staging": "the deployed commit's lockstep.yaml"}
    assert promotion_sources(OPEN, None) == {}
    moved = EnvironmentRules(promote_from="stage")
    assert list(promotion_sources(moved, GATED)) == ["stage", "staging"], "both, while the move is under way"


def test_the_refusal_names_the_source_and_how_to_get_there() -> None:
    sources = promotion_sources(GATED, None)
    assert promotion_refusal(
        environment="production", commit="1a2b3c4d5e6f7", sources=sources, succeeded_in={"staging"},
        declared={"staging", "production"},
    ) is None  # fmt: skip
    refused = promotion_refusal(
        environment="production", commit="1a2b3c4d5e6f7", sources=sources, succeeded_in=set(),
        declared={"staging", "production"},
    )  # fmt: skip
    assert refused == (
        "production takes only commits that succeeded in staging (promote_from: staging, from the "
        "deployed commit's lockstep.yaml); commit 1a2b3c4d5e6f has no successful deployment in "
        "staging: deploy it to staging first, and it is promoted from there"
    )
    gone = promotion_refusal(
        environment="production", commit="1a2b3c4d5e6f7", sources=promotion_sources(OPEN, GATED),
        succeeded_in=set(), declared={"production"},
    )  # fmt: skip
    assert gone is not None and "no longer declares staging: keep staging until" in gone


def test_approvals_take_the_larger_quorum_and_the_live_groups() -> None:
    lowered = EnvironmentRules(approvals_required=0, approver_groups=("devs",), approvals_declared=True)
    assert approvals_in_force(lowered, GATED) == (2, ("rm",))
    raised = EnvironmentRules(approvals_required=3, approver_groups=("rm", "sre"), approvals_declared=True)
    assert approvals_in_force(raised, GATED) == (3, ("rm",)), "new groups count from the next deployment"
    assert approvals_in_force(raised, None) == (3, ("rm", "sre")), "a first deployment: its own rules"
    assert approvals_in_force(raised, OPEN) == (3, ("rm", "sre")), "nothing in force names groups"
