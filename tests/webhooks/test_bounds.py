"""Unbounded input at the webhook and POST /deployments: deep JSON is a 400, an oversized, deep or
alias-bomb lockstep.yaml at the pushed commit a 422 naming the cause, a huge ref a 422; never a
500. Over a real repository and the real FastAPI app (the huge ref: test_manual_deployments)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from lockstep.domain.limits import MAX_NESTING_DEPTH
from lockstep.webhooks.events import Provider
from tests.support.apprepo import commit
from tests.webhooks.conftest import MANIFEST, REPO_NAME, FakeEnqueuer, signed_headers

GITHUB = Provider.GITHUB


def push(sha: str, **extra: Any) -> dict[str, Any]:
    return {"ref": "refs/heads/main", "after": sha, "repository": {"full_name": REPO_NAME}, **extra}


def post(client: TestClient, body: bytes, *, form: bool = False) -> Any:
    headers = signed_headers(GITHUB, body)
    if form:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return client.post("/webhooks/github", content=body, headers=headers)


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("levels", [5000, MAX_NESTING_DEPTH + 1])
def test_json_nested_past_the_bound_is_400(client: TestClient, enqueuer: FakeEnqueuer, levels: int) -> None:
    repository = json.dumps({"full_name": REPO_NAME})
    body = f'{{"repository": {repository}, "x": {nested(levels - 1)}}}'.encode()
    response = post(client, body)
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": f"malformed JSON: nested deeper than {MAX_NESTING_DEPTH} levels"}
    form = post(client, urlencode({"payload": body.decode()}).encode(), form=True)
    assert form.status_code == 400 and "nested deeper" in form.json()["detail"]
    assert enqueuer.calls == []


def test_json_nested_up_to_the_bound_is_read(client: TestClient, head: str) -> None:
    body = json.dumps(push(head, x=json.loads(nested(MAX_NESTING_DEPTH - 1)))).encode()
    assert post(client, body).status_code == 202


BOMB = "".join(
    [
        "    a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]\n",
        *(f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)),
    ]
)


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (MANIFEST + ("# " + "x" * 77 + "\n") * (50 * 1024 * 1024 // 80), "larger than the 1 MiB"),
        (MANIFEST.replace("environments:", "x: " + nested(5000) + "\nenvironments:"), "nested deeper"),
        (MANIFEST.replace("    targets: {site: local-test}", "    values:\n" + BOMB), "aliases"),
    ],
    ids=["50-MiB", "5000-levels", "alias-bomb"],
)
def test_an_unbounded_lockstep_yaml_at_the_pushed_commit_is_422(
    client: TestClient, enqueuer: FakeEnqueuer, source_repo: Path, content: str, cause: str
) -> None:
    sha = commit(source_repo, {"lockstep.yaml": content}, "unbounded manifest")
    response = post(client, json.dumps(push(sha)).encode())
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("lockstep.yaml at the pushed commit is invalid: lockstep.yaml")
    assert cause in detail
    assert enqueuer.calls == []
