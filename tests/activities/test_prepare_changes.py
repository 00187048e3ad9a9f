"""Planning a deployment looks at what it would change on its targets: the `prepare_deployment`
activity (in a real activity context) puts the change counts of each planned component on the
plan, and the policy input carries them. A cluster it cannot reach gives null counts, not a
failed plan. Real Git, a real store, kmock's emulated cluster (tests/support/kube.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.deployment import DeploymentActivities
from activities.threads import ActivityThreads
from lockstep.delivery.kinds import deliverers
from lockstep.delivery.kube_owner import marked
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.messages import DeploymentRequest
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.policy.input import deploy_input
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.targets.kubernetes import connect_kubernetes
from lockstep.targets.registry import TargetRegistry
from tests.support.apprepo import commit
from tests.support.kube import emulated_cluster

MANIFEST = """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {cluster: k8s-test, elsewhere: k8s-gone}
components:
  - name: catalogue
    target: cluster
    kubernetes: {manifests: k8s/}
  - name: orders
    target: elsewhere
    kubernetes: {manifests: orders/}
"""
FILES = {
    "lockstep.yaml": MANIFEST,
    "k8s/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: catalogue}\n"
        "spec: {replicas: 2, template: {spec: {containers: [{name: c, image: 'reg/catalogue:2'}]}}}\n"
    ),
    "k8s/flags.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {beta: 'on'}\n",
    "orders/flags.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: orders}\n",
}

FLAGS_OBJECT = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "flags"},
    "data": {"beta": "on"},
}


async def test_prepare_puts_change_counts_on_the_plan_and_in_the_policy_input(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    sha = commit(repo, FILES, "catalogue 2")
    with emulated_cluster() as gone:
        unreachable = gone.target(tmp_path / "gone-kubeconfig")
    with emulated_cluster() as emulated:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
            state_dir=str(tmp_path / "state"),
            targets={"k8s-test": emulated.target(tmp_path / "kubeconfig"), "k8s-gone": unreachable},
        )
        targets = TargetRegistry(settings.targets)
        live = connect_kubernetes(targets.settings("k8s-test"))  # type: ignore[arg-type]
        live.apply(marked(FLAGS_OBJECT, "shop/staging/catalogue"))  # as a deployment applied it
        live.close()
        store = Store.from_url(settings.database_url)
        activities = DeploymentActivities(
            store=store,
            renderer=CommitRenderer(
                GitMirrors(settings.mirrors_dir), targets.types(), target_namespaces=targets.namespaces()
            ),
            targets=targets,
            deliverers=deliverers(targets=targets, store=store),
            threads=ActivityThreads(activities=2, local_activities=1),
        )
        request = DeploymentRequest(
            deployment_id="shop-staging-1",
            application="shop",
            environment="staging",
            repository=str(repo),
            commit=sha,
        )
        result = await ActivityEnvironment().run(activities.prepare, request)

    catalogue, orders = result.plan.components
    assert catalogue.change_counts == {"created": 1, "configured": 0, "unchanged": 1, "deleted": 0}
    assert catalogue.unreachable == []
    assert orders.change_counts is None and orders.unreachable == ["k8s-gone"]

    document = deploy_input(
        application="shop", environment="staging", commit=result.commit, trigger="manual", actor=None,
        plan=result.plan, approvals=[], now="2026-01-05T10:00:00Z",
    )  # fmt: skip
    inputs: list[dict[str, Any]] = document["plan"]["components"]
    assert [(c["name"], c["changes"], c["unreachable"]) for c in inputs] == [
        ("catalogue", {"created": 1, "configured": 0, "unchanged": 1, "deleted": 0}, []),
        ("orders", None, ["k8s-gone"]),
    ]
