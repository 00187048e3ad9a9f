"""Previewing what delivering components would change: each kind's deliverer observes the
component's target and diffs it against the rendered component.

Used by `lockstep plan` (with unified diffs when asked) and by the deployment's planning, which
puts the counts on the plan for the policy (`PlannedComponent.change_counts`). Looking never
fails a plan: whatever goes wrong while looking (an unreachable host or cluster, a target that
is misconfigured) becomes a change set with `unreachable` and the reason. Nor does it take
long: components are looked at concurrently (`MAX_PARALLEL` at once) within an overall deadline,
and one not done by then (a host that accepts connections but never answers) is `unreachable:
timed out after N s`; its look goes on in a daemon thread that nothing waits for.

Deliberately does not: branch on a component's kind (`lockstep.delivery.deliverer.Deliverers`
picks the deliverer), plan, or print.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping, Sequence

from lockstep.delivery.deliverer import Deliverers
from lockstep.domain.changes import ChangeSet, total_counts
from lockstep.domain.errors import LockstepError
from lockstep.domain.models import Plan, RenderedComponent

MAX_PARALLEL = 8  # components looked at at once
_POLL_SECONDS = 0.2  # how often waiting looks at `cancelled`


def preview(
    deliverers: Deliverers, component: RenderedComponent, *, with_diff: bool = False
) -> list[ChangeSet]:
    """One change set per location of the component's target (a host, or the cluster)."""
    try:
        deliverer = deliverers.for_kind(component.kind)
        live = deliverer.observe(component, with_content=with_diff)
        return deliverer.diff(component, live, with_diff=with_diff)
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
    deadline_seconds: float,
    cancelled: threading.Event | None = None,
) -> dict[str, list[ChangeSet]]:
    """Change sets of every component the plan delivers (those it leaves unchanged are not looked
    at), each looked at in its own turn of `MAX_PARALLEL` daemon threads. Waiting ends after
    `deadline_seconds`, or when `cancelled` is set: a component not done by then is one change
    set saying so, as `unreachable`."""
    names = [c.name for c in plan.components]
    if not names:
        return {}
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in names:
        todo.put(name)
    found: dict[str, list[ChangeSet]] = {}
    lock, all_done, stop = threading.Lock(), threading.Event(), threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            change_sets = preview(deliverers, components[name], with_diff=with_diff)
            with lock:
                found[name] = change_sets
                if len(found) == len(names):
                    all_done.set()

    for i in range(min(MAX_PARALLEL, len(names))):
        threading.Thread(target=work, name=f"lockstep-preview-{i}", daemon=True).start()
    end = time.monotonic() + max(0.0, deadline_seconds)
    why = f"timed out after {deadline_seconds:g} s"
    while not all_done.wait(max(0.0, min(_POLL_SECONDS, end - time.monotonic()))):
        if cancelled is not None and cancelled.is_set():
            why = "not looked at: cancelled"
            break
        if time.monotonic() >= end:
            break
    stop.set()  # no component is started after this
    with lock:
        return {n: found[n] if n in found else [ChangeSet(location="", unreachable=why)] for n in names}
