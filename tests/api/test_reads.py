"""Reads need a token, and command output is shown with known secrets masked (docs/api.md).

The app runs in-process over a real store; the step outputs are written the way a deploy
activity writes them, so what is tested is what `GET /deployments` would have served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lockstep.api.app import create_app
from lockstep.domain.changes import Change, ChangeAction, ChangeSet
from lockstep.settings import Settings
from lockstep.store.deployments import record_step, upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.steps import record_step_changes

pytestmark = pytest.mark.store

TOKEN = "token-of-alice"
WEBHOOK_SECRET = "whsec-3f9a7c1e22b84d06"
DB_PASSWORD = "pg-pa55-ce8b1d"
REPO_TOKEN = "ghp_0123456789abcdefABCDEF"


@pytest.fixture
def api_store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    yield store
    store.dispose()


def _settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        temporal={"address": "127.0.0.1:1"},
        repositories=[
            {
                "url": f"https://x-access-token:{REPO_TOKEN}@git.example.com/shop.git",
                "name": "acme/shop",
                "webhook_secret_env": "SHOP_WEBHOOK_SECRET",
            }
        ],
        users={
            "alice": {
                "groups": ["release-managers"],
                "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
            }
        },
        **overrides,
    )


def _deployment_with_output(store: Store, output: str) -> None:
    with store.session() as session:
        upsert_deployment(
            session=session, id="shop-staging-1", application="shop", environment="staging",
            commit="a" * 40, repository="https://git.example.com/shop.git", trigger="manual",
            actor="alice", status="failed", error=f"db: command failed near {WEBHOOK_SECRET}",
        )  # fmt: skip
        record_step(
            session=session, deployment_id="shop-staging-1", component="db", host="local",
            action="deploy", status="failed", output=output,
        )  # fmt: skip


def test_reads_answer_401_without_a_valid_token(database_url: str, api_store: Store) -> None:
    _deployment_with_output(api_store, "migrated")
    with TestClient(create_app(_settings(database_url), store=api_store)) as client:
        for path in ("/deployments", "/deployments/shop-staging-1", "/deployments/nope"):
            missing = client.get(path)
            assert missing.status_code == 401, (path, missing.text)
            assert missing.headers["WWW-Authenticate"] == "Bearer"
            assert "migrated" not in missing.text
            wrong = client.get(path, headers={"Authorization": "Bearer not-a-token"})
            assert wrong.status_code == 401, (path, wrong.text)
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert [d["id"] for d in client.get("/deployments", headers=bearer).json()] == ["shop-staging-1"]
        assert client.get("/deployments/shop-staging-1", headers=bearer).status_code == 200
        assert client.get("/deployments/nope", headers=bearer).status_code == 404


def test_anonymous_read_opens_the_reads_and_nothing_else(database_url: str, api_store: Store) -> None:
    _deployment_with_output(api_store, "migrated")
    settings = _settings(database_url, api={"anonymous_read": True})
    with TestClient(create_app(settings, store=api_store)) as client:
        assert client.get("/deployments").status_code == 200
        assert client.get("/deployments/shop-staging-1").json()["steps"][0]["output"] == "migrated"
        order = {"application": "shop", "environment": "staging"}
        assert client.post("/deployments", json=order).status_code == 401, "writes still need a token"
        assert client.post("/deployments/shop-staging-1/approve").status_code == 401
        schema = client.get("/openapi.json").json()
    assert "401" not in schema["paths"]["/deployments"]["get"]["responses"], (
        "anonymous reads never answer 401"
    )


def test_the_openapi_documents_the_401_of_every_endpoint_that_needs_a_token(
    database_url: str, api_store: Store
) -> None:
    with TestClient(create_app(_settings(database_url), store=api_store)) as client:
        paths = client.get("/openapi.json").json()["paths"]
    needs_token = [
        ("get", "/deployments"),
        ("get", "/deployments/{deployment_id}"),
        ("post", "/deployments"),
        ("post", "/deployments/{deployment_id}/approve"),
        ("post", "/deployments/{deployment_id}/reject"),
    ]
    for method, path in needs_token:
        assert "401" in paths[path][method]["responses"], (method, path)
    assert "404" in paths["/deployments/{deployment_id}"]["get"]["responses"]
    for path in ("/deployments/{deployment_id}/approve", "/deployments/{deployment_id}/reject"):
        assert {"403", "404", "409", "503"} <= paths[path]["post"]["responses"].keys(), path


def test_shown_output_masks_every_known_secret(
    database_url: str, api_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("ORDERS_DB_PASSWORD", DB_PASSWORD)
    # Written unmasked on purpose: an older worker's rows, or one that did not know the secret.
    _deployment_with_output(
        api_store,
        f"SHOP_WEBHOOK_SECRET={WEBHOOK_SECRET}\nORDERS_DB_PASSWORD={DB_PASSWORD}\n"
        f"fetching https://x-access-token:{REPO_TOKEN}@git.example.com/shop.git\nPATH=/usr/bin",
    )
    settings = _settings(database_url, secret_env=["ORDERS_DB_PASSWORD"])
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings, store=api_store)) as client:
        one = client.get("/deployments/shop-staging-1", headers=bearer)
        listed = client.get("/deployments", headers=bearer)
    for response in (one, listed):
        assert response.status_code == 200, response.text
        for secret in (WEBHOOK_SECRET, DB_PASSWORD, REPO_TOKEN):
            assert secret not in response.text
    output = one.json()["steps"][0]["output"]
    assert output.splitlines() == [
        "SHOP_WEBHOOK_SECRET=***",
        "ORDERS_DB_PASSWORD=***",
        "fetching https://x-access-token:***@git.example.com/shop.git",
        "PATH=/usr/bin",
    ]
    assert one.json()["error"] == "db: command failed near ***"


def test_each_step_shows_its_change_set_masked(
    database_url: str, api_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_DB_PASSWORD", DB_PASSWORD)
    _deployment_with_output(api_store, "migrated")
    with api_store.session() as session:
        record_step(
            session=session, deployment_id="shop-staging-1", component="db", host="local",
            action="health", status="succeeded",
        )  # fmt: skip
        # Stored unmasked: a worker that did not know the secret the API knows.
        changes = ChangeSet(
            location="local",
            changes=[
                Change(
                    subject="/srv/db/env", action=ChangeAction.CONFIGURED, summary=f"password {DB_PASSWORD}"
                ),
                Change(subject="/srv/db/migrate.sh", action=ChangeAction.CREATED),
                Change(subject="/srv/db/README", action=ChangeAction.UNCHANGED),
            ],
        )
        skipped = record_step_changes(
            session=session,
            deployment_id="shop-staging-1",
            component="db",
            action="deploy",
            change_sets=[changes],
        )
        assert skipped == []
    settings = _settings(database_url, secret_env=["ORDERS_DB_PASSWORD"])
    with TestClient(create_app(settings, store=api_store)) as client:
        response = client.get("/deployments/shop-staging-1", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    deploy, health = response.json()["steps"]
    assert deploy["changes"] == {
        "counts": {"created": 1, "configured": 1, "unchanged": 1, "deleted": 0},
        "summary": "1 created, 1 configured, 1 unchanged",
        "items": [
            {"subject": "/srv/db/env", "action": "configured", "summary": "password ***"},
            {"subject": "/srv/db/migrate.sh", "action": "created", "summary": ""},
            {"subject": "/srv/db/README", "action": "unchanged", "summary": ""},
        ],
        "truncated": False,
        "unreachable": None,
    }
    assert health["action"] == "health" and health["changes"] is None
