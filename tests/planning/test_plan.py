"""Change detection: what a deployment touches and why, by example and by property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockstep.domain.errors import CycleError
from lockstep.domain.models import DeployedRevision, HealthSpec, RenderedComponent
from lockstep.domain.status import ComponentAction
from lockstep.planning.graph import dependents_closure
from lockstep.planning.plan import describe_plan, make_plan

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def rendered(
    name: str, *depends_on: str, content: str = "v1", images: tuple[str, ...] = ()
) -> RenderedComponent:
    return RenderedComponent(
        name=name,
        kind="kubernetes",
        target="cluster",
        target_name="k8s-staging",
        depends_on=depends_on,
        content_hash=f"{name}-{content}",
        health=HealthSpec(),
        images=images,
    )


def live(component: RenderedComponent, commit: str = COMMIT) -> DeployedRevision:
    return DeployedRevision(
        component=component.name, commit=commit, content_hash=component.content_hash, deployment_id="d-1"
    )


def live_all(components: list[RenderedComponent]) -> dict[str, DeployedRevision]:
    return {c.name: live(c) for c in components}


SHOP = [rendered("db"), rendered("api", "db"), rendered("web", "api")]


def test_first_deployment_creates_everything_in_waves() -> None:
    plan = make_plan(SHOP, {})
    assert [c.name for c in plan.components] == ["db", "api", "web"]
    assert {c.action for c in plan.components} == {ComponentAction.CREATE}
    assert {c.reason for c in plan.components} == {"first deployment"}
    assert all(c.previous_commit is None for c in plan.components)
    assert plan.waves == [["db"], ["api"], ["web"]]
    assert plan.unchanged == []


def test_change_to_api_plans_api_and_web_but_not_db() -> None:
    changed = [SHOP[0], rendered("api", "db", content="v2"), SHOP[2]]
    plan = make_plan(changed, live_all(SHOP))

    api, web = plan.component("api"), plan.component("web")
    assert (api.action, api.reason) == (ComponentAction.UPDATE, "changed since 0123456")
    assert (web.action, web.reason) == (ComponentAction.REDEPLOY, "depends on api, which changed")
    assert api.previous_commit == COMMIT
    assert api.content_hash == "api-v2"
    assert [c.name for c in plan.components] == ["api", "web"]
    assert plan.unchanged == ["db"]
    # db is live already, so the plan's waves drop the edge to it.
    assert plan.waves == [["api"], ["web"]]


def test_nothing_changed_gives_an_empty_plan() -> None:
    plan = make_plan(SHOP, live_all(SHOP))
    assert plan.is_empty
    assert plan.waves == []
    assert plan.unchanged == ["db", "api", "web"]


def test_a_remediation_plans_the_named_components_only() -> None:
    plan = make_plan(SHOP, live_all(SHOP), remediate={"api", "gone"})
    [api] = plan.components  # not web, which depends on it: its own live state did not move
    assert (api.name, api.action) == ("api", ComponentAction.REDEPLOY)
    assert api.reason == "remediation: live differs from its deployed revision 0123456"
    assert plan.waves == [["api"]] and plan.unchanged == ["db", "web"]
    both = make_plan(SHOP, live_all(SHOP), remediate=["web", "db"])
    assert [c.name for c in both.components] == ["db", "web"] and both.waves == [["db", "web"]]


def test_transitive_reasons_name_the_direct_dependency() -> None:
    components = [rendered("db"), rendered("api", "db"), rendered("web", "api"), rendered("cdn", "web")]
    changed = [rendered("db", content="v2"), *components[1:]]
    plan = make_plan(changed, live_all(components))
    assert [(c.name, c.action, c.reason) for c in plan.components] == [
        ("db", ComponentAction.UPDATE, "changed since 0123456"),
        ("api", ComponentAction.REDEPLOY, "depends on db, which changed"),
        ("web", ComponentAction.REDEPLOY, "depends on api, which is redeployed"),
        ("cdn", ComponentAction.REDEPLOY, "depends on web, which is redeployed"),
    ]
    assert plan.waves == [["db"], ["api"], ["web"], ["cdn"]]


def test_reason_prefers_a_changed_dependency_over_a_redeployed_one() -> None:
    # web depends on api (redeployed because db changed) and on cache (changed itself).
    components = [rendered("db"), rendered("cache"), rendered("api", "db"), rendered("web", "api", "cache")]
    changed = [rendered("db", content="v2"), rendered("cache", content="v2"), *components[2:]]
    plan = make_plan(changed, live_all(components))
    assert plan.component("web").reason == "depends on cache, which changed"


def test_dependency_on_a_new_component_says_it_is_new() -> None:
    components = [rendered("queue"), rendered("worker", "queue")]
    plan = make_plan(components, {"worker": live(components[1])})
    assert plan.component("queue").action is ComponentAction.CREATE
    assert plan.component("worker").reason == "depends on queue, which is new"


def test_manifest_order_is_kept_even_when_it_is_not_topological() -> None:
    components = [rendered("web", "api"), rendered("api", "db"), rendered("db"), rendered("docs")]
    plan = make_plan(components, {"docs": live(components[3])})
    assert [c.name for c in plan.components] == ["web", "api", "db"]
    assert plan.waves == [["db"], ["api"], ["web"]]
    assert plan.unchanged == ["docs"]


def test_planned_component_fields() -> None:
    component = rendered("api", "db", images=("registry/api:1",))
    plan = make_plan([rendered("db"), component], {})
    api = plan.component("api")
    assert api.kind == "kubernetes"
    assert api.target == "k8s-staging"
    assert api.depends_on == ["db"]
    assert api.images == ["registry/api:1"]


def test_deployed_components_missing_from_the_manifest_are_ignored() -> None:
    gone = rendered("legacy")
    plan = make_plan(SHOP, {**live_all(SHOP), "legacy": live(gone)})
    assert plan.is_empty
    assert "legacy" not in plan.unchanged


def test_cycle_anywhere_in_the_manifest_is_an_error() -> None:
    components = [rendered("db"), rendered("a", "b"), rendered("b", "a")]
    deployed = live_all(components)
    with pytest.raises(CycleError) as excinfo:
        make_plan([rendered("db", content="v2"), *components[1:]], deployed)
    assert excinfo.value.cycle == ["a", "b", "a"]


def test_describe_plan() -> None:
    changed = [SHOP[0], rendered("api", "db", content="v2"), SHOP[2]]
    assert describe_plan(make_plan(changed, live_all(SHOP))) == [
        "wave 1: api",
        "  api  update    changed since 0123456",
        "wave 2: web",
        "  web  redeploy  depends on api, which changed",
        "unchanged: db",
    ]
    assert describe_plan(make_plan([rendered("db")], {})) == ["wave 1: db", "  db  create  first deployment"]
    assert describe_plan(make_plan(SHOP, live_all(SHOP))) == ["nothing to deploy", "unchanged: db, api, web"]


# --- properties ---------------------------------------------------------------------------------


@st.composite
def environments(draw: st.DrawFn) -> tuple[list[RenderedComponent], dict[str, DeployedRevision]]:
    """A random acyclic manifest and a random live state: each component new, changed or unchanged."""
    n = draw(st.integers(min_value=0, max_value=20))
    components: list[RenderedComponent] = []
    deployed: dict[str, DeployedRevision] = {}
    for i in range(n):
        deps = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else []
        component = rendered(f"c{i}", *(f"c{j}" for j in deps))
        components.append(component)
        state = draw(st.sampled_from(["new", "changed", "unchanged"]))
        if state != "new":
            deployed[component.name] = live(component)
            if state == "changed":
                deployed[component.name] = live(rendered(component.name, content="v0"))
    return draw(st.permutations(components)), deployed


@given(environments())
def test_plan_is_upward_closed_under_dependents(
    environment: tuple[list[RenderedComponent], dict[str, DeployedRevision]],
) -> None:
    components, deployed = environment
    plan = make_plan(components, deployed)
    planned = {c.name for c in plan.components}

    for component in components:
        if any(dep in planned for dep in component.depends_on):
            assert component.name in planned
    changed = {
        c.name
        for c in components
        if c.name not in deployed or deployed[c.name].content_hash != c.content_hash
    }
    graph = {c.name: c.depends_on for c in components}
    assert planned == dependents_closure(graph, changed)
    assert planned.isdisjoint(plan.unchanged)
    assert planned | set(plan.unchanged) == {c.name for c in components}
    assert sorted(n for wave in plan.waves for n in wave) == sorted(planned)
    for c in plan.components:
        assert (c.action is ComponentAction.REDEPLOY) == (c.name not in changed)
