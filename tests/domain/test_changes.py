"""Change sets: counts, the stored (bounded) form and how they read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lockstep.domain.changes import (
    MAX_CHANGES,
    Change,
    ChangeAction,
    ChangeSet,
    any_changed,
    summarize,
    total_counts,
)

actions = st.sampled_from(list(ChangeAction))


def change(subject: str, action: ChangeAction, diff: str = "") -> Change:
    return Change(subject=subject, action=action, summary="s" * 500, diff=diff)


def test_counts_list_every_action_and_summary_leaves_out_none() -> None:
    cs = ChangeSet(
        location="h1",
        changes=[change("/a", ChangeAction.CREATED), change("/b", ChangeAction.UNCHANGED)],
    )
    assert cs.counts() == {"created": 1, "configured": 0, "unchanged": 1, "deleted": 0}
    assert cs.summary() == "1 created, 1 unchanged"
    assert cs.changed
    assert ChangeSet().summary() == "no changes"


def test_only_unchanged_is_not_a_change() -> None:
    cs = ChangeSet(changes=[change("/a", ChangeAction.UNCHANGED)])
    assert not cs.changed
    assert not any_changed([cs, ChangeSet(location="h2")])


def test_an_unreachable_location_says_why() -> None:
    cs = ChangeSet(location="h3", unreachable="connection refused")
    assert cs.summary() == "unreachable: connection refused"
    assert not cs.changed


@given(st.lists(actions, max_size=MAX_CHANGES * 2 + 3))
def test_the_stored_form_is_bounded_and_keeps_exact_counts(found: list[ChangeAction]) -> None:
    cs = ChangeSet(changes=[change(f"/f{i}", a, diff="-x\n+y\n") for i, a in enumerate(found)])
    stored = cs.bounded()
    assert len(stored.changes) <= MAX_CHANGES
    assert stored.counts() == cs.counts()
    assert all(c.diff == "" and len(c.summary) <= 200 for c in stored.changes)
    # and it survives a round trip through JSON (it travels in workflow payloads and the store)
    assert ChangeSet.model_validate_json(stored.model_dump_json()).counts() == cs.counts()


def test_totals_add_up_over_locations() -> None:
    sets = [
        ChangeSet(location="h1", changes=[change("/a", ChangeAction.CONFIGURED)]),
        ChangeSet(location="h2", changes=[change("/a", ChangeAction.DELETED)]),
    ]
    assert total_counts(sets) == {"created": 0, "configured": 1, "unchanged": 0, "deleted": 1}
    assert summarize(total_counts(sets)) == "1 configured, 1 deleted"
