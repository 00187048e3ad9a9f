"""Previewing what delivering components would change: each kind's deliverer observes the
component's target and diffs it against the rendered component.

Used by `lockstep plan` (with unified diffs when asked) and by the deployment's planning, which
puts the counts on the plan for the policy (`PlannedComponent.change_counts`). Looking never
fails a plan: whatever goes wrong while looking (an unreachable host or cluster, a target that
is misconfigured) becomes a change set with `unreachable` and the reason.

Deliberately does not: branch on a component's kind (`lockstep.delivery.deliverer.Deliverers`
picks the deliverer), plan, or print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lockstep.delivery.deliverer import Deliverers
from lockstep.domain.changes import ChangeSet, total_counts
from lockstep.domain.errors import LockstepError
from lockstep.domain.models import Plan, RenderedComponent


def preview(
    deliverers: Deliverers, component: RenderedComponent, *, with_diff: bool = False
) -> list[ChangeSet]:
    """One change set per location of the component's target (a host, or the cluster)."""
    try:
        deliverer = deliverers.for_kind(component.kind)
        return deliverer.diff(component, deliverer.observe(component), with_diff=with_diff)
    except Exception as err:  # looking must not fail the plan; the reason is shown instead
        reason = str(err) if isinstance(err, LockstepError) else f"{type(err).__name__}: {err}"
        return [ChangeSet(location="", unreachable=f"could not look: {reason}")]


def counts(change_sets: Sequence[ChangeSet], target: str) -> tuple[dict[str, int] | None, list[str]]:
    """Subjects per action over every location, None when one could not be looked at; and the
    locations that could not be (a host's label, or `target` for a cluster)."""
    unreachable = [c.location or target for c in change_sets if c.unreachable is not None]
    return (None if unreachable else total_counts(change_sets)), unreachable


def with_changes(plan: Plan, previews: Mapping[str, Sequence[ChangeSet]]) -> Plan:
    """The plan with each previewed component's change counts (others keep None)."""
    components = []
    for c in plan.components:
        if c.name in previews:
            change_counts, unreachable = counts(previews[c.name], c.target)
            c = c.model_copy(update={"change_counts": change_counts, "unreachable": unreachable})
        components.append(c)
    return plan.model_copy(update={"components": components})


def preview_plan(
    deliverers: Deliverers,
    plan: Plan,
    components: Mapping[str, RenderedComponent],
    *,
    with_diff: bool = False,
) -> dict[str, list[ChangeSet]]:
    """Change sets of every component the plan delivers (those it leaves unchanged are not looked at)."""
    return {c.name: preview(deliverers, components[c.name], with_diff=with_diff) for c in plan.components}
