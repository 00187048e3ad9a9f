"""What `lockstep drift` and `GET /drift` show: the environments' last sweeps as the store
recorded them (seeded here through the store's own functions), filtered by application and
environment; the API asks for a token as every read does."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lockstep.api.app import create_app
from lockstep.domain.drift import DriftItem, LastDeployment
from lockstep.settings import Settings
from lockstep.store import drift as drift_store
from lockstep.store.engine import Store
from tests.cli.conftest import Cli, write_config

pytestmark = pytest.mark.store

TOKEN = "token-of-alice"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def seeded(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    item = DriftItem(
        application="shop",
        environment="staging",
        component="web",
        target="local-test",
        host="local",
        kind="modified",
        path="/srv/web/index.html",
        first_seen=NOW.isoformat(),
        last_seen=NOW.isoformat(),
        last_deployment=LastDeployment(id="shop-staging-1", commit="a" * 40, at=None, actor="alice"),
    )
    with store.session() as session:
        drift_store.record_sweep(
            session=session, application="shop", environment="staging", seen=[item],
            state="drifted", reason=None, pending=[], now=NOW,
        )  # fmt: skip
        drift_store.record_sweep(
            session=session, application="shop", environment="production", seen=[],
            state="unknown", reason="web: 10.0.0.5: connection refused", pending=[], now=NOW,
        )  # fmt: skip
    yield store
    store.dispose()


def settings_for(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        temporal={"address": "127.0.0.1:1"},
        users={"alice": {"groups": ["sre"], "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}},
    )


async def test_lockstep_drift_prints_each_environment(
    seeded: Store, database_url: str, tmp_path: Path
) -> None:
    cli = Cli(config=write_config(settings_for(database_url), tmp_path / "server.yaml"), cwd=tmp_path)

    everything = await cli("drift", "--output", "json")
    assert everything.code == 0, everything.stderr
    views = json.loads(everything.stdout)
    assert [(v["environment"], v["state"]) for v in views] == [
        ("production", "unknown"),
        ("staging", "drifted"),
    ]
    for view in views:
        assert {"application", "environment", "state", "pending", "items"} <= view.keys()
    [item] = views[1]["items"]
    assert (item["kind"], item["path"], item["decision"]) == ("modified", "/srv/web/index.html", "flag")
    assert item["last_deployment"]["id"] == "shop-staging-1"
    assert views[0]["reason"] == "web: 10.0.0.5: connection refused" and views[0]["items"] == []

    staging = await cli("drift", "shop", "--env", "staging")
    assert staging.code == 0, staging.stderr
    assert "shop/staging: drifted" in staging.stdout
    assert "/srv/web/index.html" in staging.stdout and "shop-staging-1 by alice" in staging.stdout
    assert "production" not in staging.stdout

    none = await cli("drift", "other", "-o", "json")
    assert (none.code, json.loads(none.stdout)) == (0, [])


def test_get_drift_needs_a_token_and_filters(seeded: Store, database_url: str) -> None:
    client = TestClient(create_app(settings_for(database_url), store=seeded))
    assert client.get("/drift").status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}

    everything = client.get("/drift", headers=auth)
    assert everything.status_code == 200
    assert [(v["environment"], v["state"]) for v in everything.json()] == [
        ("production", "unknown"),
        ("staging", "drifted"),
    ]
    [staging] = client.get("/drift", params={"app": "shop", "env": "staging"}, headers=auth).json()
    assert [i["path"] for i in staging["items"]] == ["/srv/web/index.html"]
    assert staging["checked_at"] == NOW.isoformat()
    assert client.get("/drift", params={"app": "other"}, headers=auth).json() == []
