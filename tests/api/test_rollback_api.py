"""`POST /applications/{app}/environments/{env}/rollback`: who may ask, what it queues, refusals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lockstep.api.app import create_app
from lockstep.delivery.rendering import CommitRenderer
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.revisions import record_revisions
from tests.support.apprepo import commit, git
from tests.webhooks.conftest import FakeEnqueuer

pytestmark = pytest.mark.store

TOKEN = "token-of-alice"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROLLBACK = "/applications/shop/environments/staging/rollback"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, app_repo: Path) -> Settings:
    return Settings(
        database_url=database_url,
        state_dir=str(tmp_path / "state"),
        temporal={"address": "127.0.0.1:1"},
        repositories=[{"url": str(app_repo), "name": "acme/shop"}],
        targets={"local-test": {"type": "local", "root": str(tmp_path / "target")}},
        users={
            "alice": {
                "groups": ["release-managers"],
                "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
            }
        },
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store.from_url(settings.database_url)
    yield store
    store.dispose()


@pytest.fixture
def enqueuer() -> FakeEnqueuer:
    return FakeEnqueuer()


@pytest.fixture
def api(settings: Settings, store: Store, enqueuer: FakeEnqueuer) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store=store, enqueuer=enqueuer)) as client:
        yield client


def succeeded(
    store: Store, settings: Settings, deployment_id: str, sha: str, status: str = "succeeded"
) -> None:
    """A deployment of `sha` as the worker records it, with the revisions it left live."""
    with store.session() as session:
        upsert_deployment(
            session=session,
            id=deployment_id,
            application="shop",
            environment="staging",
            commit=sha,
            repository=settings.repositories[0].url,
            trigger="manual",
            actor="alice",
            status=status,
        )
        if status == "succeeded":
            rendered = CommitRenderer(GitMirrors(settings.mirrors_dir), {"local-test": "local"}).render(
                settings.repositories[0].url, sha, "staging"
            )
            record_revisions(
                session=session,
                application="shop",
                environment="staging",
                deployment_id=deployment_id,
                commit=sha,
                hashes={n: c.content_hash for n, c in rendered.components.items()},
            )


def test_a_user_rolls_back_to_the_deployment_before_the_live_one(
    api: TestClient, enqueuer: FakeEnqueuer, store: Store, settings: Settings, app_repo: Path
) -> None:
    a = git(app_repo, "rev-parse", "HEAD")
    b = commit(app_repo, {"web/index.html": "<h1>v2</h1>\n"}, "web v2")
    succeeded(store, settings, "shop.staging.aaaa", a)
    succeeded(store, settings, "shop.staging.bbbb", b)

    answer = api.post(ROLLBACK, headers=AUTH)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "id": f"shop.staging.{a[:10]}",  # what the (fake) lane answered
        "application": "shop",
        "environment": "staging",
        "commit": a,
        "existing": False,
        "to": "shop.staging.aaaa",
        "nothing_to_roll_back": False,
    }
    assert enqueuer.calls == [
        {
            "application": "shop",
            "environment": "staging",
            "repository": str(app_repo),
            "commit": a,
            "trigger": "rollback",
            "actor": "alice",
        }
    ]
    with store.read_session() as session:
        [asked] = events_for(session=session, deployment_id=f"shop.staging.{a[:10]}")
    assert (asked.kind, asked.actor, asked.actor_source) == ("manual_action", "alice", "api-token")
    assert json.loads(asked.detail_json) == {"action": "rollback", "to": "shop.staging.aaaa", "commit": a}

    # Going back to the live deployment's revision queues nothing and answers with the live one.
    live = api.post(ROLLBACK, json={"to": "shop.staging.bbbb"}, headers=AUTH)
    assert live.status_code == 202
    assert (live.json()["id"], live.json()["existing"], live.json()["nothing_to_roll_back"]) == (
        "shop.staging.bbbb",
        True,
        True,
    )
    assert len(enqueuer.calls) == 1


def test_refusals_and_errors(
    api: TestClient, enqueuer: FakeEnqueuer, store: Store, settings: Settings, app_repo: Path
) -> None:
    assert api.post(ROLLBACK).status_code == 401
    assert api.post(ROLLBACK, headers={"Authorization": "Bearer nope"}).status_code == 401

    nothing = api.post(ROLLBACK, headers=AUTH)
    assert nothing.status_code == 409
    assert nothing.json()["detail"].startswith("shop/staging has no successful deployment")

    unknown_app = api.post("/applications/nope/environments/staging/rollback", headers=AUTH)
    assert unknown_app.status_code == 404 and "'nope'" in unknown_app.json()["detail"]
    unknown_env = api.post("/applications/shop/environments/qa/rollback", headers=AUTH)
    assert unknown_env.status_code == 404 and "no environment 'qa'" in unknown_env.json()["detail"]

    a = git(app_repo, "rev-parse", "HEAD")
    succeeded(store, settings, "shop.staging.aaaa", a)
    succeeded(store, settings, "shop.staging.ffff", a, status="failed")
    failed = api.post(ROLLBACK, json={"to": "shop.staging.ffff"}, headers=AUTH)
    assert failed.status_code == 409
    assert failed.json()["detail"].startswith("shop.staging.ffff is failed, not succeeded")
    alone = api.post(ROLLBACK, json={}, headers=AUTH)
    assert alone.status_code == 409 and "before the live one (shop.staging.aaaa)" in alone.json()["detail"]

    assert api.post(ROLLBACK, json={"to": ""}, headers=AUTH).status_code == 422
    assert api.post(ROLLBACK, json={"to": 7}, headers=AUTH).status_code == 422
    assert enqueuer.calls == []
