"""Change sets: what a delivery did, or would do, to each thing a component owns on a target.

Shaped like fluxcd/pkg's `ssa` change sets: per subject (a file path on a host, or
`Kind/namespace/name` for a Kubernetes object) one action of `created | configured | unchanged |
deleted` with a short summary. A `ChangeSet` covers one location of a target: one host of a host
target (`location` is its label), or the cluster of a Kubernetes target (`location` is empty). A
location that could not be looked at carries `unreachable` with the reason and no changes.

Owns the vocabulary, the counting and the bounds (a step record keeps at most `MAX_CHANGES`
subjects; the counts stay exact). Deliberately does not: compute changes (each kind's deliverer,
`lockstep.delivery`) or store them (`lockstep.store.steps`).

Travels in workflow payloads (`ComponentResult.changes`): add fields with defaults only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, Field

from lockstep.domain.masking import Masker

MAX_CHANGES = 500  # subjects listed per change set in what is stored; the counts stay exact
MAX_SUMMARY = 200  # characters of one change's summary


class ChangeAction(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    DELETED = "deleted"


ACTIONS: tuple[ChangeAction, ...] = tuple(ChangeAction)


class Change(BaseModel):
    """One subject's change. `diff` is a unified diff, filled only for a preview that asked for
    it (`lockstep plan --diff`); it is never stored or put into a workflow's history."""

    subject: str
    action: ChangeAction
    summary: str = ""
    diff: str = ""


class ChangeSet(BaseModel):
    """The changes at one location of a target (a host's label, or "" for a cluster)."""

    location: str = ""
    changes: list[Change] = Field(default_factory=list)
    unreachable: str | None = None  # why this location could not be looked at
    # Exact counts when `changes` was cut to MAX_CHANGES entries (None: count `changes`).
    totals: dict[str, int] | None = None

    def counts(self) -> dict[str, int]:
        """Subjects per action, every action present (0 when none)."""
        if self.totals is not None:
            return {a.value: self.totals.get(a.value, 0) for a in ACTIONS}
        found = {a.value: 0 for a in ACTIONS}
        for change in self.changes:
            found[change.action.value] += 1
        return found

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) created, configured or deleted here."""
        counts = self.counts()
        return any(counts[a.value] for a in ACTIONS if a != ChangeAction.UNCHANGED)

    def summary(self) -> str:
        """`2 created, 1 configured, 5 unchanged` (actions with none left out; `no changes`)."""
        if self.unreachable is not None:
            return f"unreachable: {self.unreachable}"
        return summarize(self.counts())

    def masked(self, masker: Masker) -> ChangeSet:
        """This change set with `masker`'s secrets masked in every place text from a target or a
        commit lands: location, subjects, summaries, diffs and the unreachable reason."""
        return self.model_copy(
            update={
                "location": masker.mask(self.location),
                "unreachable": masker.mask(self.unreachable),
                "changes": [
                    c.model_copy(
                        update={
                            "subject": masker.mask(c.subject),
                            "summary": masker.mask(c.summary),
                            "diff": masker.mask(c.diff),
                        }
                    )
                    for c in self.changes
                ],
            }
        )

    def bounded(self) -> ChangeSet:
        """This change set as stored: diffs dropped, at most MAX_CHANGES subjects, exact counts."""
        kept = [
            Change(subject=c.subject, action=c.action, summary=c.summary[:MAX_SUMMARY])
            for c in self.changes[:MAX_CHANGES]
        ]
        totals = self.counts() if len(self.changes) > MAX_CHANGES else self.totals
        return ChangeSet(location=self.location, changes=kept, unreachable=self.unreachable, totals=totals)


def total_counts(change_sets: Iterable[ChangeSet]) -> dict[str, int]:
    """Subjects per action over several change sets (every action present)."""
    total = {a.value: 0 for a in ACTIONS}
    for change_set in change_sets:
        for action, n in change_set.counts().items():
            total[action] += n
    return total


def summarize(counts: dict[str, int]) -> str:
    parts = [f"{counts[a.value]} {a.value}" for a in ACTIONS if counts.get(a.value)]
    return ", ".join(parts) or "no changes"


def any_changed(change_sets: Sequence[ChangeSet]) -> bool:
    return any(c.changed for c in change_sets)
