"""`lockstep plan`'s live changes: what delivering each planned component would change on its
target, per host or cluster, as text (counts per location; with `--diff` the unified diffs too,
like `argocd app diff` / `flux diff`) or as JSON.

Owns the layout and the bounds of what is printed (a diff is cut after `MAX_DIFF_LINES` lines,
saying how many more there were). Deliberately does not look at targets
(`lockstep.delivery.preview`) nor decide anything: a location that could not be looked at is
shown as such and changes no exit code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lockstep.cli.common import console
from lockstep.cli.terminal import printable
from lockstep.domain.changes import ChangeSet
from lockstep.domain.masking import Masker
from lockstep.domain.models import Plan

MAX_DIFF_LINES = 200  # per changed file or object


def bounded_diff(diff: str, limit: int = MAX_DIFF_LINES) -> str:
    """`diff` with at most `limit` lines, then `… N more lines`."""
    lines = diff.splitlines()
    if len(lines) <= limit:
        return diff
    return "\n".join([*lines[:limit], f"… {len(lines) - limit} more lines"]) + "\n"


def changes_json(change_sets: Sequence[ChangeSet]) -> list[dict[str, Any]]:
    """A component's change sets as `lockstep plan --output json` shows them."""
    return [
        {
            "location": c.location,
            "unreachable": c.unreachable,
            "counts": None if c.unreachable is not None else c.counts(),
            "changes": [
                {"subject": ch.subject, "action": ch.action.value, "summary": ch.summary}
                | ({"diff": bounded_diff(ch.diff)} if ch.diff else {})
                for ch in c.changes
            ],
        }
        for c in change_sets
    ]


def masked(previews: Mapping[str, Sequence[ChangeSet]], masker: Masker) -> dict[str, list[ChangeSet]]:
    """The previews with known secrets masked (`ChangeSet.masked`): the live side of a diff is
    target content, which may hold what Git never had."""
    return {name: [c.masked(masker) for c in change_sets] for name, change_sets in previews.items()}


def print_changes(plan: Plan, previews: Mapping[str, Sequence[ChangeSet]], *, with_diff: bool) -> None:
    """One line per component and location (a kubernetes cluster is named by its target), the
    components the plan leaves unchanged last; with `with_diff`, each change's diff below it."""
    rows: list[tuple[list[str], list[str]]] = []  # (columns, diffs)
    for c in plan.components:
        found = previews.get(c.name, [])
        if not found:
            rows.append(([c.name, c.kind, c.target, "no changes"], []))
        for change_set in found:
            diffs = [bounded_diff(ch.diff) for ch in change_set.changes if ch.diff] if with_diff else []
            rows.append(([c.name, c.kind, change_set.location or c.target, change_set.summary()], diffs))
    rows.extend(([name, "unchanged"], []) for name in plan.unchanged)
    if not rows:
        return
    widths = [max((len(r[0][i]) for r in rows if len(r[0]) > i + 1), default=0) for i in range(3)]
    console.print("changes on the targets:", highlight=False)
    for columns, diffs in rows:
        padded = [text.ljust(widths[i]) for i, text in enumerate(columns[:-1])]
        line = "  " + "  ".join([*padded, columns[-1]])
        console.print(printable(line), markup=False, highlight=False, soft_wrap=True)
        for diff in diffs:
            console.print(printable(diff.rstrip("\n")), markup=False, highlight=False, soft_wrap=True)
