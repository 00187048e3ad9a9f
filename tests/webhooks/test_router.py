"""POST /webhooks/...: the order of checks, every refusal, and what a verified push enqueues, over a
real temporary Git repository and mirror cache (the enqueuer is a fake: lanes are tested apart)."""

from __future__ import annotations

import hmac
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.client import TemporalUnavailable
from lockstep.settings import Settings
from lockstep.webhooks.events import Provider
from lockstep.webhooks.limits import WebhookLimits
from tests.support.apprepo import commit, git
from tests.webhooks.conftest import (
    REPO_NAME,
    SECRET,
    FakeEnqueuer,
    load_fixture,
    retarget,
    send,
    signed_headers,
    webhook_app,
)

GITHUB = Provider.GITHUB


def github_push(sha: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    return retarget(load_fixture("github-push.json"), GITHUB, sha=sha, ref=ref)


def test_branch_push_enqueues_every_environment_of_the_branch_without_promote_from(
    client: TestClient, enqueuer: FakeEnqueuer, head: str, source_repo: Path
) -> None:
    response = send(client, GITHUB, github_push(head))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "deployments": [
            {"id": f"shop.staging.{head[:10]}", "environment": "staging", "commit": head, "existing": False}
        ],
        "ignored": None,
    }
    assert enqueuer.calls == [
        {
            "application": "shop",
            "environment": "staging",
            "repository": str(source_repo),
            "commit": head,
            "trigger": "webhook",
            "actor": "octocat",
        }
    ]


def test_redelivery_answers_the_existing_deployment_and_queues_nothing_new(
    client: TestClient, enqueuer: FakeEnqueuer, head: str
) -> None:
    first = send(client, GITHUB, github_push(head))
    again = send(client, GITHUB, github_push(head))
    assert first.status_code == again.status_code == 202
    assert [d["existing"] for d in again.json()["deployments"]] == [True]
    assert again.json()["deployments"][0]["id"] == first.json()["deployments"][0]["id"]
    assert list(enqueuer.queued) == [("staging", head)]


def test_other_branch_deploys_its_own_environment(
    client: TestClient, enqueuer: FakeEnqueuer, source_repo: Path
) -> None:
    git(source_repo, "checkout", "-q", "-b", "develop")
    sha = commit(source_repo, {"web/index.html": "<h1>preview</h1>\n"}, "preview change")
    response = send(client, GITHUB, github_push(sha, "refs/heads/develop"))
    assert response.status_code == 202, response.text
    assert [d["environment"] for d in response.json()["deployments"]] == ["preview"]


def test_a_commit_pushed_after_the_mirror_was_made_is_fetched(
    client: TestClient, enqueuer: FakeEnqueuer, head: str, source_repo: Path
) -> None:
    assert send(client, GITHUB, github_push(head)).status_code == 202
    newer = commit(source_repo, {"web/index.html": "<h1>v2</h1>\n"}, "second version")
    response = send(client, GITHUB, github_push(newer))
    assert response.status_code == 202, response.text
    assert [(c["environment"], c["commit"]) for c in enqueuer.calls] == [
        ("staging", head),
        ("staging", newer),
    ]


def test_unmapped_branch_starts_nothing_and_says_so(
    client: TestClient, enqueuer: FakeEnqueuer, source_repo: Path
) -> None:
    git(source_repo, "checkout", "-q", "-b", "feature/x")
    sha = commit(source_repo, {"web/index.html": "<h1>x</h1>\n"}, "feature")
    response = send(client, GITHUB, github_push(sha, "refs/heads/feature/x"))
    assert response.status_code == 202
    assert response.json() == {"deployments": [], "ignored": "no environment deploys branch feature/x"}
    assert enqueuer.calls == []


def test_branch_deletion_and_tag_push_start_nothing(
    client: TestClient, enqueuer: FakeEnqueuer, head: str
) -> None:
    deleted = send(client, GITHUB, github_push("0" * 40))
    assert deleted.json() == {"deployments": [], "ignored": "branch main deleted"}
    tagged = send(client, GITHUB, github_push(head, "refs/tags/v1"))
    assert tagged.json() == {"deployments": [], "ignored": "tag push: nothing to deploy"}
    other = send(client, GITHUB, github_push(head), event="issues")
    assert other.json() == {"deployments": [], "ignored": "event issues is ignored"}
    assert enqueuer.calls == []


def test_invalid_manifest_at_the_pushed_commit_is_422_naming_it(
    client: TestClient, enqueuer: FakeEnqueuer, source_repo: Path
) -> None:
    sha = commit(source_repo, {"lockstep.yaml": "application: shop\nbogus: 1\n"}, "broken manifest")
    response = send(client, GITHUB, github_push(sha))
    assert response.status_code == 422
    assert "lockstep.yaml" in response.json()["detail"]
    assert enqueuer.calls == []


def test_commit_unknown_to_the_repository_is_422(client: TestClient, enqueuer: FakeEnqueuer) -> None:
    response = send(client, GITHUB, github_push("1234567890" * 4))
    assert response.status_code == 422
    assert "1234567890" in response.json()["detail"]


def test_temporal_unavailable_is_503(client: TestClient, enqueuer: FakeEnqueuer, head: str) -> None:
    enqueuer.error = TemporalUnavailable("cannot reach Temporal at 127.0.0.1:1")
    response = send(client, GITHUB, github_push(head))
    assert response.status_code == 503
    assert "cannot reach Temporal" in response.json()["detail"]


@pytest.mark.parametrize(
    ("mutate", "detail"),
    [
        (lambda h: h | {"X-Hub-Signature-256": "sha256=" + "0" * 64}, "X-Hub-Signature-256 does not verify"),
        (lambda h: {k: v for k, v in h.items() if k != "X-Hub-Signature-256"}, "missing X-Hub-Signature-256"),
    ],
    ids=["wrong-signature", "missing-header"],
)
def test_bad_signatures_are_401(
    client: TestClient, enqueuer: FakeEnqueuer, head: str, mutate: object, detail: str
) -> None:
    body = json.dumps(github_push(head)).encode()
    headers = mutate(signed_headers(GITHUB, body))  # type: ignore[operator]
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 401
    assert detail in response.json()["detail"]
    assert enqueuer.calls == []


def test_tampered_body_and_wrong_secret_are_401(
    client: TestClient, enqueuer: FakeEnqueuer, head: str
) -> None:
    body = json.dumps(github_push(head)).encode()
    headers = signed_headers(GITHUB, body)
    tampered = body.replace(b'"octocat"', b'"mallory"')
    assert client.post("/webhooks/github", content=tampered, headers=headers).status_code == 401
    assert send(client, GITHUB, github_push(head), secret="not the secret").status_code == 401
    assert enqueuer.calls == []


def test_unknown_unsigned_and_wrongly_signed_deliveries_are_answered_alike(
    client: TestClient,
    enqueuer: FakeEnqueuer,
    head: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Status, body and the work done (one HMAC comparison) are the same whether the repository is
    unknown, configured without a secret, or configured and the signature wrong: no answer tells a
    caller which repositories exist. The log, for the operator, tells them apart."""
    caplog.set_level(logging.INFO, logger="lockstep.webhooks")
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    answers: dict[str, tuple[int, object, int]] = {}
    for case, full_name, secret in [
        ("unknown", "someone/else", SECRET),
        ("no secret", "octo-org/unsigned", SECRET),
        ("empty secret", "octo-org/empty", SECRET),
        ("wrong signature", REPO_NAME, "not the secret"),
    ]:
        payload = github_push(head)
        payload["repository"] = {"full_name": full_name, "clone_url": "https://example.com/else.git"}
        compared.clear()
        response = send(client, GITHUB, payload, secret=secret)
        answers[case] = (response.status_code, response.json(), len(compared))
    expected = {"detail": "X-Hub-Signature-256 does not verify against the secret of a configured repository"}
    assert len(answers) == 4 and all(a == (401, expected, 1) for a in answers.values()), answers
    assert enqueuer.calls == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "401 no configured repository matches" in logged
    assert "401 no webhook secret configured for octo-org/unsigned" in logged
    assert "401 X-Hub-Signature-256 does not match" in logged


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    body = b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/webhooks/github", content=body, headers=signed_headers(GITHUB, body))
    assert response.status_code == 413
    streamed = client.post(  # no Content-Length: chunked, caught while reading
        "/webhooks/github",
        content=iter([body[:700_000], body[700_000:]]),
        headers=signed_headers(GITHUB, body),
    )
    assert streamed.status_code == 413
    assert "body larger than 1048576 bytes" in streamed.json()["detail"]


def test_content_type_must_be_json_415(client: TestClient, head: str) -> None:
    body = json.dumps(github_push(head)).encode()
    for provider in Provider:
        headers = signed_headers(provider, body) | {"Content-Type": "text/plain"}
        response = client.post(f"/webhooks/{provider.value}", content=body, headers=headers)
        assert response.status_code == 415, provider
        assert "application/json" in response.json()["detail"]


def test_github_form_encoded_payload_is_accepted(
    client: TestClient, enqueuer: FakeEnqueuer, head: str
) -> None:
    body = urlencode({"payload": json.dumps(github_push(head))}).encode()
    headers = signed_headers(GITHUB, body) | {"Content-Type": "application/x-www-form-urlencoded"}
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert [c["environment"] for c in enqueuer.calls] == ["staging"]
    gitlab = client.post("/webhooks/gitlab", content=body, headers=headers)
    assert gitlab.status_code == 415


def test_malformed_json_is_400(client: TestClient) -> None:
    for body in (b'{"ref": "refs/heads/main",', b"[1, 2]", b"\xff\xfe"):
        response = client.post("/webhooks/github", content=body, headers=signed_headers(GITHUB, body))
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith("malformed JSON")


def test_signed_push_missing_fields_is_400(client: TestClient, head: str) -> None:
    payload = github_push(head)
    del payload["ref"]
    response = send(client, GITHUB, payload)
    assert response.status_code == 400
    assert "ref" in response.json()["detail"]


def test_rate_limit_per_source_answers_429_with_retry_after(client: TestClient) -> None:
    payload = {"zen": "ping", "hook_id": 1, "repository": {"full_name": REPO_NAME}}
    answers = [send(client, GITHUB, payload, event="ping").status_code for _ in range(20)]
    assert answers == [202] * 20  # the burst
    # One token comes back per second: on a slow machine a request or two more may pass.
    limited = next(
        r for r in (send(client, GITHUB, payload, event="ping") for _ in range(10)) if r.status_code != 202
    )
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert "too many" in limited.json()["detail"]


def test_rate_limit_is_configurable(settings: Settings, enqueuer: FakeEnqueuer, mirrors: GitMirrors) -> None:
    limits = WebhookLimits(burst=2, requests_per_minute=6)
    with TestClient(webhook_app(settings, enqueuer, mirrors, limits)) as c:
        payload = {"repository": {"full_name": REPO_NAME}}
        codes = [send(c, GITHUB, payload, event="ping").status_code for _ in range(3)]
        assert codes == [202, 202, 429]
        assert send(c, GITHUB, payload, event="ping").headers["Retry-After"] == "10"


def test_logs_name_delivery_and_outcome_but_no_secret_or_signature(
    client: TestClient, head: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = json.dumps(github_push(head)).encode()
    headers = signed_headers(GITHUB, body)
    client.post("/webhooks/github", content=body, headers=headers)
    client.post(
        "/webhooks/github", content=body, headers=headers | {"X-Hub-Signature-256": "sha256=" + "a" * 64}
    )
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "72d3162e-cc78-11e3-81ab-4c9367dc0958" in text and "202" in text and "401" in text
    assert SECRET not in text
    assert headers["X-Hub-Signature-256"].split("=", 1)[1] not in text
    assert "a" * 64 not in text


def test_the_openapi_document_lists_every_answer_and_no_404(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for provider in Provider:
        answers = set(paths[f"/webhooks/{provider.value}"]["post"]["responses"])
        assert answers == {"202", "400", "401", "413", "415", "422", "429", "503"}, provider
