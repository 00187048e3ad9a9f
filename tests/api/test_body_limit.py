"""Bodies past 64 KiB are refused (413) before FastAPI reads them, token or not: the token is
checked after the body is parsed, so without the cap anyone who can reach the API could make it
read and parse a body of any size. The webhooks keep their own cap (1 MiB) and answer it later."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lockstep.api.app import create_app
from lockstep.api.body_limit import API_BODY_MAX_BYTES
from lockstep.settings import Settings
from lockstep.store.engine import Store

pytestmark = pytest.mark.store


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, temporal={"address": "127.0.0.1:1"})
    store = Store.from_url(database_url)
    with TestClient(create_app(settings, store=store)) as c:
        yield c
    store.dispose()


@pytest.mark.parametrize("path", ["/deployments", "/deployments/shop-production-1/approve"])
def test_a_body_past_the_cap_is_413_before_it_is_read(client: TestClient, path: str) -> None:
    large = json.dumps({"comment": "x" * (API_BODY_MAX_BYTES + 1)})
    declared = client.post(path, content=large, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413, declared.text
    assert declared.json() == {"detail": f"body larger than {API_BODY_MAX_BYTES} bytes"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(5):
            yield b" " * (API_BODY_MAX_BYTES // 4)

    streamed = client.post(path, content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text


def test_a_small_body_still_reaches_the_token_check(client: TestClient) -> None:
    answer = client.post("/deployments", json={"application": "shop", "environment": "staging"})
    assert answer.status_code == 401


def test_webhooks_keep_their_own_cap(client: TestClient) -> None:
    body = json.dumps({"zen": "x" * (API_BODY_MAX_BYTES * 2)})
    answer = client.post("/webhooks/github", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code != 413, "a push of 128 KiB is within the webhooks' own 1 MiB cap"
