"""The component dependency graph: cycles, deployment waves and dependents.

A graph is a mapping `node -> the nodes it depends on`. Every function here is pure, iterative
(no recursion, so 10,000-node chains are fine) and O(V + E), and its output depends only on the
mapping's order, never on hashing, so the same manifest always yields the same waves and the same
reported cycle.

Dependencies naming nodes that are not keys of the mapping are ignored: reporting unknown
references, with the file and key, is the manifest layer's job, and the planner deliberately drops
dependencies on components that are already live and not part of a plan.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from lockstep.domain.errors import CycleError

__all__ = ["dependents_closure", "find_cycle", "waves"]

_WHITE, _GREY, _BLACK = 0, 1, 2


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one dependency cycle, first node repeated at the end, or None if the graph is acyclic.

    Depth-first search from each node in mapping order, following dependencies in their listed
    order, so the cycle found is the same on every run.
    """
    colour = dict.fromkeys(deps, _WHITE)
    for start in deps:
        if colour[start] != _WHITE:
            continue
        # `path` is the current DFS path; `on_path` maps a node to its index in it, which lets us
        # cut the cycle out of the path in O(1) when we meet a grey node again.
        path = [start]
        on_path = {start: 0}
        frames = [iter(deps[start])]
        colour[start] = _GREY
        while frames:
            node = path[-1]
            for dep in frames[-1]:
                state = colour.get(dep)
                if state is None or state == _BLACK:
                    continue  # unknown node, or fully explored without finding a cycle
                if state == _GREY:
                    return [*path[on_path[dep] :], dep]
                colour[dep] = _GREY
                on_path[dep] = len(path)
                path.append(dep)
                frames.append(iter(deps[dep]))
                break
            else:
                colour[node] = _BLACK
                del on_path[node]
                path.pop()
                frames.pop()
    return None


def waves(deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Layer the graph into waves that can each deploy in parallel.

    Wave 0 holds the nodes with no dependencies; wave k the nodes whose dependencies all sit in
    earlier waves, at least one of them in wave k-1 (each node lands in the earliest wave it can).
    Within a wave nodes keep the mapping's order. Raises `CycleError` naming a cycle.
    """
    # Kahn's algorithm, counting each distinct known dependency once.
    remaining: dict[str, int] = {}
    dependents: dict[str, list[str]] = {node: [] for node in deps}
    for node, node_deps in deps.items():
        known = {d for d in node_deps if d in dependents}
        remaining[node] = len(known)
        for dep in known:
            dependents[dep].append(node)

    level = dict.fromkeys(deps, 0)
    ready = deque(node for node, count in remaining.items() if count == 0)
    placed = 0
    while ready:
        node = ready.popleft()
        placed += 1
        next_level = level[node] + 1
        for dependent in dependents[node]:
            if level[dependent] < next_level:
                level[dependent] = next_level
            remaining[dependent] -= 1
            if remaining[dependent] == 0:
                ready.append(dependent)

    if placed < len(deps):
        cycle = find_cycle(deps)
        assert cycle is not None, "Kahn's algorithm stalled, so a cycle exists"
        raise CycleError(cycle)

    # Bucket in mapping order so each wave keeps the manifest's order.
    layered: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for node in deps:
        layered[level[node]].append(node)
    return layered


def dependents_closure(deps: Mapping[str, Sequence[str]], roots: Iterable[str]) -> set[str]:
    """Return `roots` plus every node that depends on one of them, directly or transitively."""
    dependents: dict[str, list[str]] = {}
    for node, node_deps in deps.items():
        for dep in node_deps:
            dependents.setdefault(dep, []).append(node)

    closure = set(roots)
    frontier = list(closure)
    while frontier:
        node = frontier.pop()
        for dependent in dependents.get(node, ()):
            if dependent not in closure:
                closure.add(dependent)
                frontier.append(dependent)
    return closure
