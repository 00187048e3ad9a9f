"""A kubernetes target's `namespaces` setting through the Deployment workflow: the policy lets an
object into another namespace, the target does not, so the component is refused before anything
is applied (real Temporal, real Git, the real `kubernetes` client against kmock's emulator)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.store.inventory import inventory
from tests.support.apprepo import commit
from tests.support.kube import EmulatedCluster, rolling_cluster
from tests.workflows.helpers import deploy

pytestmark = [pytest.mark.temporal, pytest.mark.store]

MANIFEST = """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {cluster: k8s-test}
components:
  - name: catalogue
    target: cluster
    kubernetes: {manifests: k8s/}
    health: {timeout: 10s, interval: 100ms}
"""
DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: catalogue}\n"
    "spec: {replicas: 1, template: {spec: {containers: [{name: c, image: 'reg/catalogue:1.4.2'}]}}}\n"
)
FOREIGN = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: kube-system}\n"


@pytest.fixture
def emulated() -> Iterator[EmulatedCluster]:
    with rolling_cluster() as cluster:
        yield cluster


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    commit(
        repo,
        {"lockstep.yaml": MANIFEST, "k8s/a-deployment.yaml": DEPLOYMENT, "k8s/b-flags.yaml": FOREIGN},
        "catalogue, with flags in kube-system",
    )
    return repo


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, emulated: EmulatedCluster) -> Settings:
    policy = Path(settings.policy.path)  # the policy lets staging write anywhere ...
    data = json.loads((policy / "data.json").read_text())
    data["lockstep"]["config"]["kubernetes"] = {"foreign_namespaces_allowed": {"staging": ["*"]}}
    (policy / "data.json").write_text(json.dumps(data))
    raw = settings.model_dump()
    target = emulated.target(tmp_path / "kubeconfig") | {"namespaces": ["shop"]}  # ... the target not
    raw["targets"] |= {"k8s-test": target}
    return Settings(**raw)


async def test_the_target_refuses_a_namespace_the_policy_allowed(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    emulated: EmulatedCluster,
) -> None:
    view = await deploy(temporal_env, settings, store, git)
    # Refused after planning, before approvals are awaited and before anything is touched.
    assert view.status == DeploymentStatus.DENIED, view.error
    assert view.error is not None and view.error.startswith("the targets refuse it: ")
    assert 'ConfigMap/kube-system/flags goes to namespace "kube-system"' in view.error
    assert 'target "k8s-test" does not allow (namespaces: shop' in view.error
    assert [s for s in view.steps if s.action == "deploy"] == []
    assert emulated.live("apps/v1/deployments", "shop", "catalogue") is None, "nothing was applied"
    assert emulated.live("v1/configmaps", "kube-system", "flags") is None
    with store.session() as session:
        assert inventory(session=session, deployment_id=view.id, component="catalogue") == []
