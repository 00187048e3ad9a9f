"""Cycles, waves and dependents of the dependency graph, by example and by property."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lockstep.domain.errors import CycleError
from lockstep.planning.graph import dependents_closure, find_cycle, waves

Graph = dict[str, list[str]]


def assert_real_cycle(deps: Graph, cycle: list[str]) -> None:
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1, "a cycle visits each node once"
    for node, dep in itertools.pairwise(cycle):
        assert dep in deps[node], f"{node} -> {dep} is not an edge"


# --- find_cycle ---------------------------------------------------------------------------------


def test_acyclic_graph_has_no_cycle() -> None:
    assert find_cycle({"db": [], "api": ["db"], "web": ["api", "db"]}) is None
    assert find_cycle({}) is None


def test_self_loop() -> None:
    assert find_cycle({"db": [], "api": ["api"]}) == ["api", "api"]


def test_two_cycle() -> None:
    assert find_cycle({"api": ["web"], "web": ["api"]}) == ["api", "web", "api"]


def test_long_cycle_is_reported_in_dependency_order() -> None:
    deps = {"a": ["b"], "b": ["c"], "c": ["d"], "d": ["e"], "e": ["a"], "f": ["a"]}
    assert find_cycle(deps) == ["a", "b", "c", "d", "e", "a"]


def test_cycle_reachable_only_from_a_later_node() -> None:
    # "db" and "cache" are explored first and are clean; the cycle hangs off the last node.
    deps = {"db": [], "cache": ["db"], "api": ["db", "worker"], "worker": ["queue"], "queue": ["worker"]}
    assert find_cycle(deps) == ["worker", "queue", "worker"]


def test_cycle_is_cut_out_of_the_path_that_leads_to_it() -> None:
    deps = {"web": ["api"], "api": ["db"], "db": ["cache"], "cache": ["api"]}
    assert find_cycle(deps) == ["api", "db", "cache", "api"]


def test_unknown_dependencies_are_ignored() -> None:
    assert find_cycle({"api": ["nowhere"], "web": ["api", "elsewhere"]}) is None


def test_ten_thousand_node_chain_does_not_hit_recursion_limits() -> None:
    n = 10_000
    chain = {f"n{i}": [f"n{i + 1}"] if i + 1 < n else [] for i in range(n)}
    assert find_cycle(chain) is None
    chain[f"n{n - 1}"] = ["n0"]
    cycle = find_cycle(chain)
    assert cycle is not None
    assert len(cycle) == n + 1
    assert_real_cycle(chain, cycle)


# --- waves --------------------------------------------------------------------------------------


def test_chain_gives_one_node_per_wave() -> None:
    assert waves({"web": ["api"], "api": ["db"], "db": []}) == [["db"], ["api"], ["web"]]


def test_diamond() -> None:
    deps = {"web": ["api", "worker"], "api": ["db"], "worker": ["db"], "db": []}
    assert waves(deps) == [["db"], ["api", "worker"], ["web"]]


def test_node_goes_in_the_earliest_wave_its_longest_path_allows() -> None:
    deps = {"db": [], "cache": [], "api": ["db"], "web": ["api", "cache"], "cdn": ["cache"]}
    assert waves(deps) == [["db", "cache"], ["api", "cdn"], ["web"]]


def test_duplicate_and_unknown_dependencies() -> None:
    assert waves({"db": ["gone"], "api": ["db", "db"]}) == [["db"], ["api"]]


def test_empty_graph_has_no_waves() -> None:
    assert waves({}) == []


def test_waves_raise_cycle_error_naming_the_cycle() -> None:
    with pytest.raises(CycleError) as excinfo:
        waves({"db": [], "api": ["db", "web"], "web": ["api"]})
    assert excinfo.value.cycle == ["api", "web", "api"]
    assert "api -> web -> api" in str(excinfo.value)


def test_waves_handle_ten_thousand_nodes() -> None:
    # A smoke check that layering is linear; the timed figures live in bench/plan_scale.py.
    n = 10_000
    deps = {f"n{i}": [f"n{j}" for j in (i - 1, i // 2, i // 3) if 0 <= j < i] for i in range(n)}
    started = time.perf_counter()
    layered = waves(deps)
    assert time.perf_counter() - started < 5.0
    assert len(layered) == n  # the i-1 edges make a chain


# --- dependents_closure -------------------------------------------------------------------------


def test_dependents_closure() -> None:
    deps = {"db": [], "cache": [], "api": ["db"], "web": ["api"], "cdn": ["cache"]}
    assert dependents_closure(deps, ["db"]) == {"db", "api", "web"}
    assert dependents_closure(deps, ["web"]) == {"web"}
    assert dependents_closure(deps, ["api", "cache"]) == {"api", "web", "cache", "cdn"}
    assert dependents_closure(deps, []) == set()


# --- properties over random DAGs ----------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 25) -> Graph:
    """Random DAGs: node i may depend only on nodes of lower index, listed in a shuffled order."""
    n = draw(st.integers(min_value=0, max_value=max_nodes))
    names = [f"c{i}" for i in range(n)]
    deps: Graph = {}
    for i, name in enumerate(names):
        chosen = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=4)) if i else []
        deps[name] = [names[j] for j in chosen]
    order = draw(st.permutations(names))
    return {name: deps[name] for name in order}


@given(dags())
def test_waves_layer_every_dag_earliest_first(deps: Graph) -> None:
    layered = waves(deps)
    position = {node: k for k, wave in enumerate(layered) for node in wave}
    assert sorted(position) == sorted(deps), "waves partition the nodes"
    assert sum(len(w) for w in layered) == len(deps)
    assert all(layered), "no empty wave"
    for node, node_deps in deps.items():
        assert all(position[d] < position[node] for d in node_deps)
        earliest = 1 + max((position[d] for d in node_deps), default=-1)
        assert position[node] == earliest
    order = list(deps)
    for wave in layered:
        assert wave == sorted(wave, key=order.index), "within a wave, mapping order is kept"
    assert find_cycle(deps) is None


@given(dags(), st.data())
def test_back_edge_closing_a_path_yields_a_real_cycle(deps: Graph, data: st.DataObject) -> None:
    paths = [(node, reached) for node in deps for reached in dependents_closure(_reverse(deps), [node])]
    assume(paths)
    start, end = data.draw(st.sampled_from(paths))
    # start depends on end (transitively or itself); end -> start closes a cycle.
    deps[end] = [*deps[end], start]
    cycle = find_cycle(deps)
    assert cycle is not None
    assert_real_cycle(deps, cycle)
    with pytest.raises(CycleError) as excinfo:
        waves(deps)
    assert_real_cycle(deps, excinfo.value.cycle)


@given(dags(), st.data())
def test_dependents_closure_is_upward_closed(deps: Graph, data: st.DataObject) -> None:
    roots = data.draw(st.lists(st.sampled_from(list(deps)), max_size=3)) if deps else []
    closure = dependents_closure(deps, roots)
    assert set(roots) <= closure
    for node, node_deps in deps.items():
        if any(d in closure for d in node_deps):
            assert node in closure


def _reverse(deps: Graph) -> Graph:
    """Dependencies reversed: node -> the nodes that depend on it directly."""
    reversed_: Graph = {node: [] for node in deps}
    for node, node_deps in deps.items():
        for dep in node_deps:
            reversed_[dep].append(node)
    return reversed_
