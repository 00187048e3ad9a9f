"""The policy input document (SPEC §6) and its canonical hash."""

from __future__ import annotations

from lockstep.policy.input import canonical_json, input_sha256
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
    assert document["plan"]["components"][0] == {
        "name": "catalogue-db",
        "kind": "kubernetes",
        "target": "k8s-prod",
        "action": "update",
        "images": ["mongo:7"],
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
