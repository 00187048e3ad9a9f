"""`POST /deployments`: bearer identity from the server config, the same lane as webhooks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lockstep.api.identity import bearer_dependency, user_for_token
from lockstep.api.manual import create_manual_router
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.webhooks.conftest import FakeEnqueuer

TOKEN = "alice-s3cret-token"


@pytest.fixture
def with_users(settings: Settings) -> Settings:
    raw = settings.model_dump()
    raw["users"] = {
        "alice": {
            "groups": ["release-managers"],
            "email": "alice@example.com",
            "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
        },
        "bob": {"groups": []},  # no token: can never authenticate
    }
    return Settings(**raw)


@pytest.fixture
def api(with_users: Settings, enqueuer: FakeEnqueuer, mirrors: GitMirrors) -> Iterator[TestClient]:
    app = FastAPI()
    store = Store.from_url(with_users.database_url)
    app.include_router(
        create_manual_router(with_users, enqueuer, mirrors, bearer_dependency(with_users), store)
    )
    with TestClient(app) as client:
        yield client


def test_a_user_queues_a_deployment_as_themselves(api: TestClient, enqueuer: FakeEnqueuer, head: str) -> None:
    answer = api.post(
        "/deployments",
        json={"application": "shop", "environment": "staging"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["commit"] == head and body["environment"] == "staging" and body["existing"] is False
    assert enqueuer.calls[-1]["actor"] == "alice" and enqueuer.calls[-1]["trigger"] == "manual"
    again = api.post(
        "/deployments",
        json={"application": "shop", "environment": "staging", "ref": head},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert again.status_code == 202 and again.json()["existing"] is True


@pytest.mark.parametrize("header", [None, "Bearer ", "Basic abc", "Bearer wrong-token"])
def test_no_or_bad_token_is_401(api: TestClient, enqueuer: FakeEnqueuer, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = api.post("/deployments", json={"application": "shop", "environment": "staging"}, headers=headers)
    assert answer.status_code == 401 and "detail" in answer.json()
    assert enqueuer.calls == []


def test_unknown_application_or_environment_is_422(api: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    unknown_app = api.post(
        "/deployments", json={"application": "nope", "environment": "staging"}, headers=auth
    )
    assert unknown_app.status_code == 422 and "nope" in unknown_app.json()["detail"]
    unknown_env = api.post("/deployments", json={"application": "shop", "environment": "qa"}, headers=auth)
    assert unknown_env.status_code == 422 and "qa" in unknown_env.json()["detail"]


def test_tokens_match_only_their_hash(with_users: Settings) -> None:
    user = user_for_token(with_users, TOKEN)
    assert user is not None and user.name == "alice" and user.groups == ("release-managers",)
    assert user_for_token(with_users, TOKEN + "x") is None
    assert user_for_token(with_users, "") is None


def test_a_huge_ref_on_post_deployments_is_422_not_500(api: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    order = {"application": "shop", "environment": "staging"}
    huge = api.post("/deployments", json={**order, "ref": "x" * 200_000}, headers=auth)
    assert huge.status_code == 422
    assert huge.json()["detail"][0]["loc"] == ["body", "ref"]
    assert "at most 1024 characters" in huge.json()["detail"][0]["msg"]
    wide = api.post("/deployments", json={**order, "ref": "a/" + "b" * 300}, headers=auth)
    assert wide.status_code == 422 and "255 between slashes" in wide.json()["detail"]
