"""The shipped Kubernetes object rules through the embedded engine: cluster-scoped objects and
objects outside the target's namespace are denied unless data.json allows them per environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lockstep.domain.models import CommitInfo, Plan, PlannedComponent, PlannedObject
from lockstep.domain.source import MemorySourceTree
from lockstep.domain.status import ComponentAction
from lockstep.manifest import load_manifest, render_environment
from lockstep.planning.plan import make_plan
from lockstep.policy.embedded import EmbeddedPolicyEngine
from lockstep.policy.input import deploy_input
from tests.manifest.test_placements import FILES, TYPES
from tests.policy.conftest import DEFAULT_BUNDLE, MONDAY

DEPLOYMENT = PlannedObject(apiVersion="apps/v1", kind="Deployment", namespace="shop", name="catalogue")
BINDING = PlannedObject(
    apiVersion="rbac.authorization.k8s.io/v1", kind="ClusterRoleBinding", namespace=None, name="admin"
)
JOBS = PlannedObject(apiVersion="batch/v1", kind="CronJob", namespace="shop-jobs", name="cleanup")


def _input(plan: Plan, environment: str) -> dict[str, Any]:
    commit = CommitInfo(sha="f" * 40, author="a", author_email="a@example.com", message="m", timestamp=MONDAY)
    return deploy_input(
        application="shop",
        environment=environment,
        commit=commit,
        trigger="promotion",
        actor=None,
        plan=plan,
        approvals=[],
        now=MONDAY,
    )


def input_with(*objects: PlannedObject, environment: str = "staging") -> dict[str, Any]:
    component = PlannedComponent(
        name="catalogue",
        kind="kubernetes",
        target="k8s-prod",
        action=ComponentAction.UPDATE,
        reason="changed",
        content_hash="0" * 64,
        target_namespace="shop",
        objects=list(objects),
    )
    return _input(Plan(components=[component], waves=[["catalogue"]]), environment)


@pytest.fixture(scope="module")
def engine() -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(DEFAULT_BUNDLE)


def test_objects_in_the_targets_namespace_pass(engine: EmbeddedPolicyEngine) -> None:
    for environment in ("staging", "production"):
        assert engine.evaluate_deploy(input_with(DEPLOYMENT, environment=environment)).deny == []


def test_cluster_scoped_objects_are_denied_everywhere_by_default(engine: EmbeddedPolicyEngine) -> None:
    for environment in ("dev", "production"):
        decision = engine.evaluate_deploy(input_with(DEPLOYMENT, BINDING, environment=environment))
        assert decision.deny == [
            'component "catalogue": ClusterRoleBinding/admin (rbac.authorization.k8s.io/v1) is '
            f"cluster-scoped, and {environment} takes no cluster-scoped objects; leave it to the "
            f"cluster's administrators, or list {environment} in kubernetes.cluster_scoped_allowed in "
            "policies/data.json"
        ]


def test_objects_in_another_namespace_are_denied_by_default(engine: EmbeddedPolicyEngine) -> None:
    assert engine.evaluate_deploy(input_with(DEPLOYMENT, JOBS)).deny == [
        'component "catalogue": CronJob/shop-jobs/cleanup goes to namespace "shop-jobs", not its '
        'target\'s namespace "shop"; drop its metadata.namespace, or allow "shop-jobs" for staging in '
        "kubernetes.foreign_namespaces_allowed in policies/data.json"
    ]


def test_data_json_allows_them_per_environment(bundle_copy: Callable[..., Path]) -> None:
    # Only the keys given change: foreign_namespaces_allowed keeps its default where left out.
    scoped = EmbeddedPolicyEngine(bundle_copy({"kubernetes": {"cluster_scoped_allowed": ["dev"]}}))
    assert scoped.evaluate_deploy(input_with(BINDING, environment="dev")).deny == []
    assert len(scoped.evaluate_deploy(input_with(BINDING, environment="staging")).deny) == 1
    assert len(scoped.evaluate_deploy(input_with(JOBS, environment="dev")).deny) == 1

    foreign = {"foreign_namespaces_allowed": {"staging": ["shop-jobs"], "dev": ["*"]}}
    namespaces = EmbeddedPolicyEngine(bundle_copy({"kubernetes": foreign}))
    assert namespaces.evaluate_deploy(input_with(JOBS)).deny == []
    elsewhere = PlannedObject(apiVersion="v1", kind="Secret", namespace="kube-system", name="s")
    assert len(namespaces.evaluate_deploy(input_with(JOBS, elsewhere)).deny) == 1
    assert namespaces.evaluate_deploy(input_with(JOBS, elsewhere, environment="dev")).deny == []
    assert len(namespaces.evaluate_deploy(input_with(BINDING, environment="dev")).deny) == 1


def test_a_rendered_manifest_is_judged_as_deployed(engine: EmbeddedPolicyEngine) -> None:
    """From lockstep.yaml to the decision, as `lockstep plan` and the worker both ask it."""
    source = MemorySourceTree(FILES)
    rendered = render_environment(
        load_manifest(source),
        "staging",
        source,
        target_types=TYPES,
        target_namespaces={"k8s-staging": "shop"},
    )
    deny = engine.evaluate_deploy(_input(make_plan(rendered, {}), "staging")).deny
    assert sorted(reason.split(":")[0] + ": " + reason.split(": ")[1].split(" ")[0] for reason in deny) == [
        'component "catalogue": ClusterRoleBinding/catalogue-admin',
        'component "catalogue": ClusterWidget/w',
        'component "catalogue": CronJob/shop-jobs/cleanup',
        'component "crds": CustomResourceDefinition/clusterwidgets.example.com',
    ]
