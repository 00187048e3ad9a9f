"""GitLab, Gitea and generic deliveries (fixtures written from each provider's documented payload)
through their endpoints, and the app factory wiring the router in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lockstep.api.app import create_app
from lockstep.api.webhooks import TemporalEnqueuer
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.webhooks.events import Provider
from lockstep.webhooks.signatures import SIGNATURE_HEADERS
from tests.webhooks.conftest import (
    REPO_NAME,
    FakeEnqueued,
    FakeEnqueuer,
    load_fixture,
    retarget,
    send,
    signed_headers,
)


def staging(head: str) -> list[dict[str, object]]:
    return [{"id": f"shop.staging.{head[:10]}", "environment": "staging", "commit": head, "existing": False}]


def test_gitlab_push_hook(client: TestClient, enqueuer: FakeEnqueuer, head: str) -> None:
    response = send(
        client, Provider.GITLAB, retarget(load_fixture("gitlab-push.json"), Provider.GITLAB, sha=head)
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"deployments": staging(head), "ignored": None}
    assert enqueuer.calls[0]["actor"] == "jsmith"


def test_gitlab_tag_push_and_branch_deletion_start_nothing(
    client: TestClient, enqueuer: FakeEnqueuer
) -> None:
    tag = retarget(
        load_fixture("gitlab-tag-push.json"), Provider.GITLAB, sha="82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"
    )
    response = send(client, Provider.GITLAB, tag, event="Tag Push Hook")
    assert response.json() == {"deployments": [], "ignored": "tag push: nothing to deploy"}
    deletion = retarget(load_fixture("gitlab-push.json"), Provider.GITLAB, sha="0" * 40)
    response = send(client, Provider.GITLAB, deletion)
    assert response.json() == {"deployments": [], "ignored": "branch main deleted"}
    response = send(client, Provider.GITLAB, deletion, event="Merge Request Hook")
    assert response.json() == {"deployments": [], "ignored": "event Merge Request Hook is ignored"}
    assert enqueuer.calls == []


def test_gitlab_wrong_token_is_401(client: TestClient, head: str) -> None:
    payload = retarget(load_fixture("gitlab-push.json"), Provider.GITLAB, sha=head)
    assert send(client, Provider.GITLAB, payload, secret="guess").status_code == 401


def test_gitea_push(client: TestClient, enqueuer: FakeEnqueuer, head: str) -> None:
    response = send(
        client, Provider.GITEA, retarget(load_fixture("gitea-push.json"), Provider.GITEA, sha=head)
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"deployments": staging(head), "ignored": None}
    assert enqueuer.calls[0]["actor"] == "gitea"


def test_gitea_tampered_body_is_401(client: TestClient, head: str) -> None:
    body = json.dumps(retarget(load_fixture("gitea-push.json"), Provider.GITEA, sha=head)).encode()
    headers = signed_headers(Provider.GITEA, body)
    response = client.post("/webhooks/gitea", content=body.replace(b"Yay", b"Nay"), headers=headers)
    assert response.status_code == 401


def test_generic_push_by_name_and_by_url(
    client: TestClient, enqueuer: FakeEnqueuer, head: str, source_repo: Path
) -> None:
    payload = retarget(load_fixture("generic-push.json"), Provider.GENERIC, sha=head)
    response = send(client, Provider.GENERIC, payload)
    assert response.status_code == 202, response.text
    assert response.json() == {"deployments": staging(head), "ignored": None}
    assert enqueuer.calls[0]["actor"] == "release-bot"
    by_url = payload | {"repository": f"file://{source_repo}.git/"}
    again = send(client, Provider.GENERIC, by_url)
    assert again.status_code == 202, again.text
    assert again.json()["deployments"][0]["existing"] is True


def test_generic_signature_header_is_required(client: TestClient, head: str) -> None:
    body = json.dumps(retarget(load_fixture("generic-push.json"), Provider.GENERIC, sha=head)).encode()
    response = client.post("/webhooks/generic", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.json() == {"detail": "missing X-Lockstep-Signature header"}


@pytest.mark.parametrize("provider", list(Provider))
def test_every_endpoint_refuses_unknown_repositories_alike(client: TestClient, provider: Provider) -> None:
    payloads: dict[Provider, dict[str, Any]] = {
        Provider.GITHUB: {"repository": {"full_name": "nobody/nothing"}, "ref": "refs/heads/main"},
        Provider.GITEA: {"repository": {"full_name": "nobody/nothing"}, "ref": "refs/heads/main"},
        Provider.GITLAB: {"project": {"path_with_namespace": "nobody/nothing"}, "ref": "refs/heads/main"},
        Provider.GENERIC: {"repository": "nobody/nothing", "ref": "refs/heads/main"},
    }
    response = send(client, provider, payloads[provider])
    assert response.status_code == 401
    header = SIGNATURE_HEADERS[provider]
    detail = f"{header} does not verify against the secret of a configured repository"
    assert response.json() == {"detail": detail}
    assert REPO_NAME not in response.text


def test_create_app_serves_the_webhooks(settings: Settings, enqueuer: FakeEnqueuer, head: str) -> None:
    store = Store.from_url(settings.database_url)
    try:
        with TestClient(create_app(settings, store=store, enqueuer=enqueuer)) as c:
            paths = c.get("/openapi.json").json()["paths"]
            assert {f"/webhooks/{p.value}" for p in Provider} <= paths.keys()
            payload = retarget(load_fixture("github-push.json"), Provider.GITHUB, sha=head)
            response = send(c, Provider.GITHUB, payload)
            assert response.status_code == 202, response.text
            assert response.json() == {"deployments": staging(head), "ignored": None}
        # Without an enqueuer the app still starts: the default connects to Temporal lazily.
        with TestClient(create_app(settings, store=store)) as c:
            assert c.get("/healthz").status_code == 200
    finally:
        store.dispose()


async def test_default_enqueuer_connects_once_and_hands_over_to_the_lanes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections: list[object] = []
    handed_over: list[dict[str, Any]] = []

    async def fake_connect(temporal: object) -> object:
        connections.append(temporal)
        return "client"

    async def fake_enqueue(**kwargs: Any) -> FakeEnqueued:
        handed_over.append(kwargs)
        return FakeEnqueued("shop-staging-abc", kwargs["environment"], kwargs["commit"], False)

    monkeypatch.setattr("lockstep.api.webhooks.connect", fake_connect)
    monkeypatch.setattr("lockstep.api.webhooks.enqueue_deployment", fake_enqueue)
    store = Store.from_url(settings.database_url)
    try:
        enqueue = TemporalEnqueuer(settings=settings, store=store)
        for _ in range(2):
            result = await enqueue(
                application="shop",
                environment="staging",
                repository="https://git.example.com/shop.git",
                commit="a" * 40,
                trigger="webhook",
                actor="octocat",
            )
            assert result.deployment_id == "shop-staging-abc"
    finally:
        store.dispose()
    assert connections == [settings.temporal]
    assert handed_over[0]["client"] == "client" and handed_over[0]["settings"] is settings
    assert {k: handed_over[0][k] for k in ("application", "environment", "commit", "trigger", "actor")} == {
        "application": "shop",
        "environment": "staging",
        "commit": "a" * 40,
        "trigger": "webhook",
        "actor": "octocat",
    }
