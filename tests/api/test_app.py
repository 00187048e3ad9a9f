"""The FastAPI app over a real store (SQLite, or PostgreSQL on request) and a real Temporal dev
server, exercised in-process through `fastapi.testclient.TestClient`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from temporalio.testing import WorkflowEnvironment

from lockstep.api.app import create_app
from lockstep.domain.models import Plan, PlannedComponent
from lockstep.domain.status import ComponentAction
from lockstep.settings import Settings
from lockstep.store.deployments import record_step, upsert_deployment
from lockstep.store.engine import Store
from tests.support.temporal import address

UNREACHABLE = "127.0.0.1:1"

pytestmark = pytest.mark.store


@pytest.fixture
def api_store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    yield store
    store.dispose()


TOKEN = "token-of-alice"  # reads need one (docs/api.md): tests/api/test_reads.py


def make_client(database_url: str, store: Store, *, temporal_address: str = UNREACHABLE) -> TestClient:
    settings = Settings(
        database_url=database_url,
        temporal={"address": temporal_address},
        users={"alice": {"token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}},
    )
    return TestClient(create_app(settings, store=store), headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture
def client(database_url: str, api_store: Store) -> Iterator[TestClient]:
    with make_client(database_url, api_store) as c:
        yield c


def add_deployment(store: Store, deployment_id: str, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "application": "shop",
        "environment": "staging",
        "commit": "a" * 40,
        "repository": "https://git.example.com/shop.git",
        "trigger": "manual",
        "actor": "alice",
        "status": "succeeded",
    }
    fields.update(overrides)
    with store.session() as session:
        upsert_deployment(session=session, id=deployment_id, **fields)


def ids(response_json: list[dict[str, Any]]) -> list[str]:
    return [d["id"] for d in response_json]


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.temporal
def test_readyz_when_database_and_temporal_answer(
    database_url: str, api_store: Store, temporal_env: WorkflowEnvironment
) -> None:
    with make_client(database_url, api_store, temporal_address=address(temporal_env)) as c:
        response = c.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


def test_readyz_names_temporal_when_it_is_unreachable(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail["status"] == "not ready"
    assert "temporal" in detail
    assert UNREACHABLE in detail["temporal"]
    assert "database" not in detail  # the database itself is fine


def test_deployments_empty(client: TestClient) -> None:
    response = client.get("/deployments")
    assert response.status_code == 200
    assert response.json() == []


def test_deployments_newest_first(client: TestClient, api_store: Store) -> None:
    # Ids sort the other way round from creation, so only created_at can give this order.
    for deployment_id in ("c-first", "b-second", "a-third"):
        add_deployment(api_store, deployment_id)
    response = client.get("/deployments")
    assert response.status_code == 200
    assert ids(response.json()) == ["a-third", "b-second", "c-first"]


def test_deployments_limit(client: TestClient, api_store: Store) -> None:
    for deployment_id in ("d1", "d2", "d3"):
        add_deployment(api_store, deployment_id)
    assert ids(client.get("/deployments", params={"limit": 2}).json()) == ["d3", "d2"]
    assert client.get("/deployments", params={"limit": 0}).status_code == 422


def test_deployments_filters(client: TestClient, api_store: Store) -> None:
    add_deployment(api_store, "shop-staging-1")
    add_deployment(api_store, "shop-production-1", environment="production", status="failed")
    add_deployment(api_store, "blog-staging-1", application="blog", status="deploying")

    def query(**params: str) -> list[str]:
        response = client.get("/deployments", params=params)
        assert response.status_code == 200, response.text
        return sorted(ids(response.json()))

    assert query(app="shop") == ["shop-production-1", "shop-staging-1"]
    assert query(env="staging") == ["blog-staging-1", "shop-staging-1"]
    assert query(status="failed") == ["shop-production-1"]
    assert query(app="shop", env="staging", status="succeeded") == ["shop-staging-1"]
    assert query(app="shop", status="deploying") == []


def test_invalid_status_filter_is_422(client: TestClient) -> None:
    response = client.get("/deployments", params={"status": "exploded"})
    assert response.status_code == 422
    assert "status" in response.text


def test_listed_deployments_carry_their_steps(client: TestClient, api_store: Store) -> None:
    add_deployment(api_store, "d1")
    with api_store.session() as session:
        record_step(
            session=session,
            deployment_id="d1",
            component="web",
            host="h1",
            action="deploy",
            status="succeeded",
            output="switched",
        )
    [listed] = client.get("/deployments").json()
    assert [(s["component"], s["host"], s["action"], s["status"]) for s in listed["steps"]] == [
        ("web", "h1", "deploy", "succeeded")
    ]


def test_one_deployment_with_plan_steps_and_approvals(client: TestClient, api_store: Store) -> None:
    plan = Plan(
        components=[
            PlannedComponent(
                name="db",
                kind="host",
                target="local-test",
                action=ComponentAction.CREATE,
                reason="first deployment",
                content_hash="1" * 64,
            ),
            PlannedComponent(
                name="web",
                kind="host",
                target="local-test",
                action=ComponentAction.CREATE,
                reason="first deployment",
                content_hash="2" * 64,
                depends_on=["db"],
            ),
        ],
        waves=[["db"], ["web"]],
    )
    add_deployment(
        api_store,
        "shop-staging-aaaaaaa",
        status="rolled_back",
        plan_json=plan.model_dump_json(),
        error="web: health check failed",
    )
    with api_store.session() as session:
        for action, status in (("deploy", "succeeded"), ("health", "failed"), ("rollback", "succeeded")):
            record_step(
                session=session,
                deployment_id="shop-staging-aaaaaaa",
                component="web",
                host="local",
                action=action,
                status=status,
                output=f"{action} output",
            )

    response = client.get("/deployments/shop-staging-aaaaaaa")
    assert response.status_code == 200
    body = response.json()
    assert {"plan", "steps", "approvals"} <= body.keys()
    assert body["id"] == "shop-staging-aaaaaaa"
    assert (body["application"], body["environment"], body["commit"]) == ("shop", "staging", "a" * 40)
    assert body["status"] == "rolled_back"
    assert body["error"] == "web: health check failed"
    assert body["plan"]["waves"] == [["db"], ["web"]]
    assert [c["name"] for c in body["plan"]["components"]] == ["db", "web"]
    assert body["plan"]["components"][1]["depends_on"] == ["db"]
    assert [(s["action"], s["status"], s["output"]) for s in body["steps"]] == [
        ("deploy", "succeeded", "deploy output"),
        ("health", "failed", "health output"),
        ("rollback", "succeeded", "rollback output"),
    ]
    assert body["approvals"] == []
    assert body["finished_at"] is not None


def test_unknown_deployment_is_404_naming_it(client: TestClient) -> None:
    response = client.get("/deployments/shop-staging-nope123")
    assert response.status_code == 404
    assert "shop-staging-nope123" in response.json()["detail"]


def test_docs_and_openapi_are_served(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["info"]["title"] == "Lockstep"
    assert {"/deployments", "/deployments/{deployment_id}", "/healthz", "/readyz"} <= spec["paths"].keys()
    assert "get" in spec["paths"]["/deployments"]
