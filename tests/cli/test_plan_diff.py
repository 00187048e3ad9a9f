"""`lockstep plan` looks at what a deployment would change on its targets: counts per cluster,
`--diff` the changed fields, `--output json` the change sets; a cluster it cannot reach is said
to be so and the plan still prints with its usual exit code. Run as a user would (a real
process), against kmock's emulated cluster (tests/support/kube.py), which it leaves as it was."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockstep.delivery.kube_owner import marked
from lockstep.settings import KubernetesTargetSettings, Settings
from lockstep.store.engine import Store
from lockstep.store.revisions import record_revisions
from lockstep.targets.kubernetes import connect_kubernetes
from tests.cli.conftest import Cli
from tests.support.apprepo import commit
from tests.support.kube import EmulatedCluster, emulated_cluster
from tests.support.policies import open_window_bundle

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
"""
DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: catalogue}\n"
    "spec: {replicas: 2, template: {spec: {containers: [{name: c, image: 'reg/catalogue:%s'}]}}}\n"
)
FLAGS = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags}\ndata: {beta: 'on'}\n"
LIVE_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "catalogue"},
    "spec": {
        "replicas": 2,
        "template": {"spec": {"containers": [{"name": "c", "image": "reg/catalogue:1"}]}},
    },
}


@pytest.fixture
def emulated() -> Iterator[EmulatedCluster]:
    with emulated_cluster() as cluster:
        yield cluster


def _settings(tmp_path: Path, k8s: dict[str, str]) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        state_dir=str(tmp_path / "state"),
        targets={"k8s-test": k8s},
        policy={"engine": "embedded", "path": str(open_window_bundle(tmp_path / "policies"))},
    )


def _apply_live(k8s: dict[str, str]) -> None:
    cluster = connect_kubernetes(KubernetesTargetSettings.model_validate(k8s))
    try:
        cluster.apply(marked(LIVE_DEPLOYMENT, "shop/staging/catalogue"))  # as a deployment did
    finally:
        cluster.close()


async def test_plan_shows_counts_per_cluster_and_diff_shows_the_changed_fields(
    cli_for: Callable[[Settings], Cli], tmp_path: Path, emulated: EmulatedCluster
) -> None:
    k8s = emulated.target(tmp_path / "kubeconfig")
    _apply_live(k8s)
    commit(
        tmp_path / "shop",
        {"lockstep.yaml": MANIFEST, "k8s/a.yaml": DEPLOYMENT % "2", "k8s/b.yaml": FLAGS},
        "v2",
    )
    cli = cli_for(_settings(tmp_path, k8s))

    text = await cli("plan", str(tmp_path / "shop"), "--env", "staging")
    assert text.code == 0, text.stdout + text.stderr
    lines = [line.split() for line in text.stdout.splitlines()]
    assert ["catalogue", "kubernetes", "k8s-test", "1", "created,", "1", "configured"] in lines
    assert "+++ desired/" not in text.stdout  # diffs only with --diff

    diffed = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--diff")
    assert diffed.code == 0, diffed.stdout + diffed.stderr
    out = diffed.stdout.splitlines()
    assert "--- live/Deployment/shop/catalogue" in out and "+++ desired/Deployment/shop/catalogue" in out
    assert "-      - image: reg/catalogue:1" in out and "+      - image: reg/catalogue:2" in out
    assert "+++ desired/ConfigMap/shop/flags" in out and "+  beta: 'on'" in out

    result = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--output", "json", "--diff")
    assert result.code == 0, result.stderr
    [staging] = json.loads(result.stdout)
    [catalogue] = staging["plan"]["components"]
    assert catalogue["change_counts"] == {"created": 1, "configured": 1, "unchanged": 0, "deleted": 0}
    [cluster] = catalogue["changes"]
    assert (cluster["location"], cluster["unreachable"]) == ("", None)
    assert cluster["counts"] == catalogue["change_counts"]
    deployment, flags = cluster["changes"]
    assert deployment["subject"] == "Deployment/shop/catalogue" and deployment["action"] == "configured"
    assert deployment["summary"] == "spec.template.spec.containers[0].image"
    assert "+      - image: reg/catalogue:2\n" in deployment["diff"]
    assert (flags["subject"], flags["action"]) == ("ConfigMap/shop/flags", "created")

    live = emulated.live("apps/v1/deployments", "shop", "catalogue")
    assert (
        live is not None and live["spec"]["template"]["spec"]["containers"][0]["image"] == "reg/catalogue:1"
    )
    assert emulated.live("v1/configmaps", "shop", "flags") is None  # planning changed nothing


async def test_an_unreachable_cluster_is_shown_and_the_plan_still_prints(
    cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    with emulated_cluster() as gone:
        k8s = gone.target(tmp_path / "kubeconfig")
    commit(tmp_path / "shop", {"lockstep.yaml": MANIFEST, "k8s/a.yaml": DEPLOYMENT % "2"}, "v2")
    cli = cli_for(_settings(tmp_path, k8s))

    text = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--diff")
    assert text.code == 0, text.stdout + text.stderr
    [line] = [line for line in text.stdout.splitlines() if line.strip().startswith("catalogue  ")]
    assert line.split()[:4] == ["catalogue", "kubernetes", "k8s-test", "unreachable:"]
    assert "Kubernetes API unreachable" in line
    assert "policy: allowed" in text.stdout

    result = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--output", "json")
    assert result.code == 0, result.stderr
    [staging] = json.loads(result.stdout)
    [catalogue] = staging["plan"]["components"]
    assert catalogue["change_counts"] is None and catalogue["unreachable"] == ["k8s-test"]
    [cluster] = catalogue["changes"]
    assert cluster["counts"] is None and cluster["changes"] == []
    assert "Kubernetes API unreachable" in cluster["unreachable"]


async def test_a_long_diff_is_cut_and_an_unchanged_component_says_so(
    cli_for: Callable[[Settings], Cli], tmp_path: Path, emulated: EmulatedCluster
) -> None:
    k8s = emulated.target(tmp_path / "kubeconfig")
    big = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n" + "".join(
        f"  key{i:03}: v{i}\n" for i in range(300)
    )
    commit(tmp_path / "shop", {"lockstep.yaml": MANIFEST, "k8s/big.yaml": big}, "big")
    cli = cli_for(_settings(tmp_path, k8s))
    text = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--diff")
    assert text.code == 0, text.stdout + text.stderr
    out = text.stdout.splitlines()
    assert "+  key194: v194" in out and "+  key195: v195" not in out
    assert out[out.index("+  key194: v194") + 1] == "… 113 more lines"  # its owner marks among them

    [staging] = json.loads((await cli("plan", str(tmp_path / "shop"), "--output", "json")).stdout)
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    content_hash = staging["plan"]["components"][0]["content_hash"]
    with store.session() as session:
        record_revisions(
            session=session, application="shop", environment="staging", deployment_id="d1",
            commit=staging["commit"]["sha"], hashes={"catalogue": content_hash},
        )  # fmt: skip
    again = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--diff")
    assert again.code == 0, again.stdout + again.stderr
    assert [line.split() for line in again.stdout.splitlines() if "catalogue" in line] == [
        ["catalogue", "unchanged"]
    ]


SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: %s, user: shop}\n"


async def test_a_secret_s_values_are_never_printed_only_which_keys_change(
    cli_for: Callable[[Settings], Cli], tmp_path: Path, emulated: EmulatedCluster
) -> None:
    k8s = emulated.target(tmp_path / "kubeconfig")
    cluster = connect_kubernetes(KubernetesTargetSettings.model_validate(k8s))
    try:
        live: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}}
        cluster.apply(
            marked({**live, "stringData": {"password": "old-pw", "user": "shop"}}, "shop/staging/catalogue")
        )
    finally:
        cluster.close()
    commit(tmp_path / "shop", {"lockstep.yaml": MANIFEST, "k8s/db.yaml": SECRET % "new-pw"}, "rotate")
    cli = cli_for(_settings(tmp_path, k8s))

    text = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--diff")
    assert text.code == 0, text.stdout + text.stderr
    out = text.stdout.splitlines()
    assert ["catalogue", "kubernetes", "k8s-test", "1", "configured"] in [line.split() for line in out]
    assert "-  password: '***'" in out and "+  password: '*** (changed)'" in out
    assert not any("user" in line and line[:1] in "+-" for line in out)  # unchanged: no diff line
    result = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--output", "json", "--diff")
    assert result.code == 0, result.stderr
    [staging] = json.loads(result.stdout)
    [change] = staging["plan"]["components"][0]["changes"][0]["changes"]
    assert (change["action"], change["summary"]) == ("configured", "stringData.password")
    assert "+  password: '*** (changed)'" in change["diff"]
    for printed in (text.stdout, result.stdout):
        for value in ("old-pw", "new-pw", "b2xkLXB3", "bmV3LXB3", "c2hvcA=="):  # plain and base64
            assert value not in printed
