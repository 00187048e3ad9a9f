"""`lockstep plan` shows what a deployment would place where: each Kubernetes object with the
namespace it lands in, a host component's folders and commands, the policy's verdict on them and
what the kubernetes target's `namespaces` / `cluster_scoped` settings would refuse (exit 1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lockstep.settings import Settings
from tests.cli.conftest import Cli
from tests.support.apprepo import commit
from tests.support.policies import open_window_bundle

MANIFEST = """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {cluster: k8s-test, site: local-test}
components:
  - name: catalogue
    target: cluster
    kubernetes: {manifests: k8s/}
  - name: web
    target: site
    depends_on: [catalogue]
    host: {files: [{src: web/, dest: /srv/web}], deploy: ["echo {{ environment }} > deployed"]}
    health: {commands: ["test -f index.html"]}
"""
FILES = {
    "lockstep.yaml": MANIFEST,
    "k8s/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: catalogue}\n"
        "spec: {template: {spec: {containers: [{name: c, image: 'reg/catalogue:1.4.2'}]}}}\n"
    ),
    "k8s/jobs.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cleanup, namespace: shop-jobs}\n",
    "k8s/rbac.yaml": (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: admin}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
    ),
    "web/index.html": "<h1>shop</h1>\n",
}


def _settings(tmp_path: Path, policy: Path, **kubernetes: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        state_dir=str(tmp_path / "state"),
        targets={
            "local-test": {"type": "local", "root": str(tmp_path / "target")},
            "k8s-test": {"type": "kubernetes", "namespace": "shop", **kubernetes},
        },
        policy={"engine": "embedded", "path": str(policy)},
    )


async def test_plan_lists_objects_dests_commands_and_what_is_refused(
    cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    commit(tmp_path / "shop", FILES, "catalogue with a cluster-admin binding")
    policy = open_window_bundle(tmp_path / "policies")
    cli = cli_for(_settings(tmp_path, policy, namespaces=["shop"], cluster_scoped=False))
    result = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--output", "json")
    assert result.code == 1, result.stderr
    [staging] = json.loads(result.stdout)
    catalogue, web = staging["plan"]["components"]
    assert catalogue["target_namespace"] == "shop"
    assert catalogue["objects"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "catalogue"},
        {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "shop-jobs", "name": "cleanup"},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "namespace": None,
         "name": "admin"},
    ]  # fmt: skip
    assert (web["dests"], web["commands"]) == (
        ["/srv/web"],
        ["echo staging > deployed", "test -f index.html"],
    )

    policy_deny = staging["policy"]["deny"]
    assert not staging["policy"]["allowed"] and len(policy_deny) == 2
    assert any(r.startswith('component "catalogue": ClusterRoleBinding/admin ') for r in policy_deny)
    assert any(r.startswith('component "catalogue": ConfigMap/shop-jobs/cleanup ') for r in policy_deny)
    limits = staging["target_limits"]
    assert not limits["allowed"]
    assert [r.split(",")[0] for r in limits["deny"]] == [
        'component "catalogue": ConfigMap/shop-jobs/cleanup goes to namespace "shop-jobs"',
        'component "catalogue": ClusterRoleBinding/admin is cluster-scoped',
    ]
    assert "namespaces: shop in the server configuration" in limits["deny"][0]

    text = await cli("plan", str(tmp_path / "shop"), "--env", "staging")
    assert text.code == 1
    assert 'target: component "catalogue": ClusterRoleBinding/admin is cluster-scoped' in text.stdout


async def test_plan_passes_where_policy_and_target_allow_them(
    cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    commit(tmp_path / "shop", FILES, "catalogue with a cluster-admin binding")
    policy = open_window_bundle(tmp_path / "policies")
    data = json.loads((policy / "data.json").read_text())
    data["lockstep"]["config"]["kubernetes"] = {
        "cluster_scoped_allowed": ["staging"],
        "foreign_namespaces_allowed": {"staging": ["shop-jobs"]},
    }
    (policy / "data.json").write_text(json.dumps(data))
    cli = cli_for(_settings(tmp_path, policy, namespaces=["shop", "shop-jobs"]))
    result = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--output", "json")
    assert result.code == 0, result.stdout + result.stderr
    [staging] = json.loads(result.stdout)
    assert staging["policy"]["deny"] == [] and staging["policy"]["allowed"]
    assert staging["target_limits"] == {"allowed": True, "deny": []}
