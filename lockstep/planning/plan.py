"""Change detection: which components a deployment touches, why, and in which waves.

`make_plan` compares each rendered component with what the system of record says is live in the
environment, keeps the ones that are new or changed plus everything that depends on them, and
says why each is in the plan. `describe_plan` renders a plan as lines for the CLI.

This module does not read Git, the store or any target: callers pass the rendered components and
the deployed revisions in. It does not remove components that disappeared from the manifest
(future work), and it does not validate references: unknown `depends_on` names are the manifest
layer's to report, and are ignored here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from lockstep.domain.errors import CycleError
from lockstep.domain.models import DeployedRevision, Plan, PlannedComponent, RenderedComponent
from lockstep.domain.status import ComponentAction
from lockstep.planning.graph import dependents_closure, find_cycle, waves

__all__ = ["describe_plan", "make_plan"]

_SHORT_SHA = 7


def make_plan(
    components: Sequence[RenderedComponent],
    deployed: Mapping[str, DeployedRevision],
    *,
    remediate: Collection[str] = (),
) -> Plan:
    """Plan a deployment of `components` over what is `deployed` (component name -> live revision).

    A component is planned when it was never deployed here (create), when its content hash differs
    from the live one (update), or when something it depends on, transitively, is planned
    (redeploy). Components and `unchanged` keep manifest order; waves cover planned components
    only, since dependencies outside the plan are already live. Raises `CycleError` if the
    dependency graph has a cycle, whether or not the cycle touches the plan.

    A remediation names the components to `remediate` (their live state drifted): only those
    are planned, as `redeploy`, whatever their content hash; nothing that depends on them is
    (their own live state did not move), and a named component the commit lacks is left out.
    """
    # Entries in `deployed` for components no longer in the manifest are ignored on purpose:
    # removing them from their targets is future work, and they cannot affect what is planned.
    graph = {c.name: c.depends_on for c in components}
    # Checked on the whole graph so a cyclic manifest fails the same way whatever changed.
    cycle = find_cycle(graph)
    if cycle is not None:
        raise CycleError(cycle)

    actions: dict[str, ComponentAction] = {}
    reasons: dict[str, str] = {}
    if remediate:
        for component in components:
            if component.name in remediate:
                actions[component.name] = ComponentAction.REDEPLOY
                live = deployed.get(component.name)
                since = f" {live.commit[:_SHORT_SHA]}" if live is not None else ""
                reasons[component.name] = f"remediation: live differs from its deployed revision{since}"
        return _plan(components, deployed, actions, reasons)
    for component in components:
        live = deployed.get(component.name)
        if live is None:
            actions[component.name] = ComponentAction.CREATE
            reasons[component.name] = "first deployment"
        elif live.content_hash != component.content_hash:
            actions[component.name] = ComponentAction.UPDATE
            reasons[component.name] = f"changed since {live.commit[:_SHORT_SHA]}"

    planned = dependents_closure(graph, list(actions))
    for component in components:
        if component.name in planned and component.name not in actions:
            actions[component.name] = ComponentAction.REDEPLOY
    for component in components:
        if actions.get(component.name) is ComponentAction.REDEPLOY:
            reasons[component.name] = _redeploy_reason(component, actions)
    return _plan(components, deployed, actions, reasons)


def _plan(
    components: Sequence[RenderedComponent],
    deployed: Mapping[str, DeployedRevision],
    actions: Mapping[str, ComponentAction],
    reasons: Mapping[str, str],
) -> Plan:
    """The plan of the components given an action, in manifest order, with their waves."""
    planned_components: list[PlannedComponent] = []
    unchanged: list[str] = []
    for component in components:
        action = actions.get(component.name)
        if action is None:
            unchanged.append(component.name)
            continue
        live = deployed.get(component.name)
        planned_components.append(
            PlannedComponent(
                name=component.name,
                kind=component.kind,
                target=component.target_name,
                action=action,
                reason=reasons[component.name],
                content_hash=component.content_hash,
                depends_on=list(component.depends_on),
                images=list(component.images),
                previous_commit=live.commit if live is not None else None,
                target_namespace=component.target_namespace,
                objects=list(component.placements),
                dests=component.dests,
                commands=component.commands,
            )
        )

    subgraph = {c.name: [d for d in c.depends_on if d in actions] for c in components if c.name in actions}
    return Plan(components=planned_components, waves=waves(subgraph), unchanged=unchanged)


def _redeploy_reason(component: RenderedComponent, actions: Mapping[str, ComponentAction]) -> str:
    """Name the first direct dependency that changed, else the first one that is redeployed."""
    for dep in component.depends_on:
        action = actions.get(dep)
        if action is ComponentAction.CREATE:
            return f"depends on {dep}, which is new"
        if action is ComponentAction.UPDATE:
            return f"depends on {dep}, which changed"
    for dep in component.depends_on:
        if actions.get(dep) is ComponentAction.REDEPLOY:
            return f"depends on {dep}, which is redeployed"
    # Unreachable: a redeployed component is in the plan only through a planned dependency.
    raise AssertionError(f"{component.name} is redeployed but no dependency of it is planned")


def describe_plan(plan: Plan) -> list[str]:
    """Render a plan as human-readable lines: a header per wave, then one line per component.

    Waves are numbered from 1. Columns are aligned across the plan, e.g.::

        wave 1: db
          db  create  first deployment
    """
    if plan.is_empty:
        lines = ["nothing to deploy"]
        if plan.unchanged:
            lines.append(f"unchanged: {', '.join(plan.unchanged)}")
        return lines

    by_name = {c.name: c for c in plan.components}
    name_width = max(len(c.name) for c in plan.components)
    action_width = max(len(c.action.value) for c in plan.components)
    lines = []
    for number, wave in enumerate(plan.waves, start=1):
        lines.append(f"wave {number}: {', '.join(wave)}")
        for name in wave:
            planned = by_name[name]
            lines.append(
                f"  {name.ljust(name_width)}  {planned.action.value.ljust(action_width)}  {planned.reason}"
            )
    if plan.unchanged:
        lines.append(f"unchanged: {', '.join(plan.unchanged)}")
    return lines
