"""Fuzzing the webhook parsers and endpoints: random payloads and headers give a PushEvent, a
NonDeployingEvent or MalformedEvent; signature checks give a bool; the endpoints answer 2xx or 4xx
(or 503 when Git is unavailable) and never raise, over a real repository and the real app."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import event, given
from hypothesis import strategies as st

from lockstep.api.webhooks import create_webhook_router
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.webhooks.events import (
    MalformedEvent,
    NonDeployingEvent,
    Provider,
    PushEvent,
    delivery_id,
    interpret,
    repository_identity,
)
from lockstep.webhooks.limits import WebhookLimits
from lockstep.webhooks.signatures import SIGNATURE_HEADERS, hmac_sha256_hex, verify
from tests.fuzz.budget import fuzz
from tests.support.apprepo import commit
from tests.webhooks.conftest import MANIFEST, REPO_NAME, FakeEnqueuer, load_fixture, signed_headers

SECRET = "fuzzing secret"
HEADER_NAMES = sorted(
    {*SIGNATURE_HEADERS.values(), "X-GitHub-Event", "X-Gitlab-Event", "X-Gitea-Event", "X-Lockstep-Event",
     "X-GitHub-Delivery", "Idempotency-Key", "X-Gitlab-Event-UUID", "X-Gitea-Delivery", "X-Lockstep-Delivery",
     "X-Gogs-Event", "Content-Type"}
)  # fmt: skip
HEADER_VALUE = st.one_of(
    st.sampled_from(["push", "ping", "Push Hook", "Tag Push Hook", "System Hook", "sha256=00", "sha256="]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)
JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["refs/heads/main", "refs/tags/v1", "refs/heads/", "0" * 40, "f" * 64, REPO_NAME]),
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["ref", "after", "repository", "project", "full_name", "deleted"]),
                st.text(max_size=8),
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=25,
)
FIXTURES = {p: load_fixture(f"{p.value}-push.json") for p in Provider}


@st.composite
def payloads(draw: st.DrawFn) -> tuple[Provider, dict[str, Any]]:
    """A provider and a payload: random JSON, or that provider's real push with fields replaced."""
    provider = draw(st.sampled_from(list(Provider)))
    if draw(st.booleans()):
        return provider, draw(st.dictionaries(st.text(max_size=10), JSON, max_size=6))
    payload = json.loads(json.dumps(FIXTURES[provider]))
    for _ in range(draw(st.integers(1, 4))):
        target: Any = payload
        path = draw(st.lists(st.sampled_from(["repository", "project", "ref", "after", "pusher", "commits",
                                              "full_name", "name", "url", "deleted", "object_kind"]),
                             min_size=1, max_size=3))  # fmt: skip
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target[path[-1]] = draw(JSON)
    return provider, payload


HEADERS = st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_VALUE, max_size=5)


@fuzz(max_examples=300)
@given(payloads(), HEADERS)
def test_parsers_answer_an_event_or_malformed(
    case: tuple[Provider, dict[str, Any]], headers: dict[str, str]
) -> None:
    provider, payload = case
    ident = repository_identity(provider, payload)
    assert all(isinstance(x, str) for x in (*ident.names, *ident.urls))
    delivery = delivery_id(provider, headers, payload)
    assert delivery is None or (len(delivery) <= 80 and delivery.isprintable())
    try:
        event = interpret(provider, headers, payload)
    except MalformedEvent:
        return
    assert isinstance(event, PushEvent | NonDeployingEvent)


@fuzz(max_examples=200)
@given(st.sampled_from(list(Provider)), st.binary(max_size=200), HEADERS, st.text(max_size=20))
def test_signature_checks_answer_a_bool(
    provider: Provider, body: bytes, headers: Mapping[str, str], secret: str
) -> None:
    assert verify(provider, body, headers, secret) in (True, False)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """The webhook app over a real repository whose secret is SECRET; and the repository's head."""
    tmp = tmp_path_factory.mktemp("webhook-fuzz")
    repo = tmp / "app"
    head = commit(repo, {"lockstep.yaml": MANIFEST, "web/index.html": "hi"}, "first")
    settings = Settings(
        state_dir=str(tmp / "state"),
        database_url=f"sqlite:///{tmp / 'lockstep.db'}",
        repositories=[{"url": str(repo), "name": REPO_NAME, "webhook_secret_env": "FUZZ_SECRET"}],
    )
    mirrors = GitMirrors(settings.mirrors_dir)
    limits = WebhookLimits(requests_per_minute=1e9, burst=10**9)  # the limiter is not under test
    app = FastAPI()
    app.include_router(
        create_webhook_router(
            settings, FakeEnqueuer(), mirrors, limits=limits, environ={"FUZZ_SECRET": SECRET}
        )
    )
    with TestClient(app) as c:  # raises whatever the app raises: a crash fails the test
        yield c, head
    mirrors.close()


ANSWERS = {202, 400, 401, 413, 415, 422, 429, 503}


# JSON (or GitHub's form field) nested up to 5,000 levels, balanced or not.
DEEP_BODIES = st.tuples(
    st.integers(1, 5000), st.sampled_from(["[", '{"a": ']), st.booleans(), st.booleans()
).map(
    lambda t: (lambda j: (b"payload=" + quote(j).encode()) if t[3] else j.encode())(
        '{"x": ' + t[1] * t[0] + "1" + ("]" if t[1] == "[" else "}") * (t[0] if t[2] else t[0] // 2) + "}"
    )
)
MOSTLY = st.sampled_from([True, True, True, False])


@fuzz(max_examples=150)
@given(payloads(), HEADERS, MOSTLY, MOSTLY)
def test_signed_and_unsigned_deliveries_never_crash_the_endpoint(
    client: tuple[TestClient, str],
    case: tuple[Provider, dict[str, Any]],
    extra: dict[str, str],
    sign: bool,
    ours: bool,
) -> None:
    http, head = client
    provider, payload = case
    if ours:  # about the configured repository, so the signature is checked against its secret
        payload = {
            **payload,
            "repository": REPO_NAME if provider is Provider.GENERIC else {"full_name": REPO_NAME},
        }
        payload.setdefault("after", head)
    body = json.dumps(payload).encode()
    # What the Git host sends, signed with the right secret or a wrong one, then random headers
    # over it (which may replace the signature, the event or the content type).
    headers = signed_headers(provider, body, secret=SECRET if sign else "wrong") | extra
    response = http.post(f"/webhooks/{provider.value}", content=body, headers=headers)
    event(f"HTTP {response.status_code}")
    assert response.status_code in ANSWERS, response.text
    assert "detail" in response.json() or response.status_code == 202


@fuzz(max_examples=100)
@given(
    st.sampled_from(list(Provider)),
    st.one_of(st.binary(max_size=300), DEEP_BODIES),
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]),
)
def test_arbitrary_bodies_never_crash_the_endpoint(
    client: tuple[TestClient, str], provider: Provider, body: bytes, content_type: str
) -> None:
    http, _ = client
    headers = {
        "Content-Type": content_type,
        SIGNATURE_HEADERS[provider]: "sha256=" + hmac_sha256_hex(SECRET, body),
    }
    response = http.post(f"/webhooks/{provider.value}", content=body, headers=headers)
    assert response.status_code in ANSWERS, response.text


def test_the_fuzzed_app_deploys_a_well_formed_push(client: tuple[TestClient, str]) -> None:
    """The fuzzed app is a working one: a well-formed signed push is accepted."""
    http, head = client
    body = json.dumps({"repository": REPO_NAME, "ref": "refs/heads/main", "after": head}).encode()
    response = http.post(
        "/webhooks/generic", content=body, headers=signed_headers(Provider.GENERIC, body, secret=SECRET)
    )
    assert response.status_code == 202, response.text
