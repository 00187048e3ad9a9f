"""The policy input document (policies/README.md) and its canonical hash."""

from __future__ import annotations

from lockstep.domain.models import CommitInfo
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest, render_environment
from lockstep.planning.plan import make_plan
from lockstep.policy.input import canonical_json, deploy_input, input_sha256
from tests.manifest.test_placements import FILES, TYPES
from tests.policy.conftest import MONDAY, make_input


def test_input_has_the_spec_shape() -> None:
    document = make_input(images={"catalogue-db": ["mongo:7"], "catalogue": ["reg/catalogue:1.4.2"]})
    assert set(document) == {"application", "environment", "commit", "trigger", "plan", "approvals", "now"}
    assert document["commit"] == {
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "author": "Ada",
        "author_email": "ada@example.com",
        "message": "Bump catalogue",
        "timestamp": MONDAY,
    }
    assert document["trigger"] == {"kind": "promotion", "actor": None, "groups": []}
    named = make_input(trigger="manual", actor="alice", groups=("release-managers", "admins"))
    assert named["trigger"] == {"kind": "manual", "actor": "alice", "groups": ["admins", "release-managers"]}
    rollback = make_input(trigger="rollback", actor="alice", groups=("release-managers",))
    assert rollback["trigger"] == {"kind": "rollback", "actor": "alice", "groups": ["release-managers"]}
    assert document["plan"]["components"][0] == {
        "name": "catalogue-db",
        "kind": "kubernetes",
        "target": "k8s-prod",
        "action": "update",
        "images": ["mongo:7"],
        "changes": None,  # not looked at (conftest builds the plan by hand)
        "unreachable": [],
        "target_namespace": None,  # a plan made without it (conftest builds components by hand)
        "objects": [],
    }
    assert document["plan"]["waves"] == [["catalogue-db", "catalogue"]]
    assert document["approvals"] == [] and document["now"] == MONDAY


def test_hash_is_canonical() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
    b = {"a": {"x": "é", "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == '{"a":{"x":"é","y":[1,2]},"b":1}'
    assert input_sha256(a) == input_sha256(b)
    assert input_sha256(a) != input_sha256({**a, "b": 2})
    assert len(input_sha256(make_input())) == 64


def test_components_show_their_objects_dests_and_commands() -> None:
    """Rendered, planned and put into the input exactly as `lockstep plan` and the worker do."""
    source = MemorySourceTree(FILES)
    rendered = render_environment(
        load_manifest(source),
        "staging",
        source,
        target_types=TYPES,
        target_namespaces={"k8s-staging": "shop"},
    )
    commit = CommitInfo(sha="f" * 40, author="a", author_email="a@example.com", message="m", timestamp=MONDAY)
    document = deploy_input(
        application="shop",
        environment="staging",
        commit=commit,
        trigger="manual",
        actor=None,
        plan=make_plan(rendered, {}),
        approvals=[],
        now=MONDAY,
    )
    crds, catalogue, web = document["plan"]["components"]
    assert crds["objects"] == [
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "namespace": None,
            "name": "clusterwidgets.example.com",
        }
    ]
    assert catalogue == {
        "name": "catalogue",
        "kind": "kubernetes",
        "target": "k8s-staging",
        "action": "create",
        "images": [],
        "changes": None,
        "unreachable": [],
        "target_namespace": "shop",
        "objects": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "catalogue"},
            {"apiVersion": "batch/v1", "kind": "CronJob", "namespace": "shop-jobs", "name": "cleanup"},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "namespace": None,
                "name": "catalogue-admin",
            },
            {"apiVersion": "example.com/v1", "kind": "ClusterWidget", "namespace": None, "name": "w"},
        ],
    }
    assert web == {
        "name": "web",
        "kind": "host",
        "target": "vms-staging",
        "action": "create",
        "images": [],
        "changes": None,
        "unreachable": [],
        "dests": ["/srv/staging"],
        "commands": ["systemctl restart web-staging", "curl -fsS http://localhost/staging"],
    }
