"""Every real GitHub delivery in ../shared/realworld/github-push/ (octokit/webhooks examples) gets
the right outcome through POST /webhooks/github.

Branch pushes name a GitHub repository and a commit that do not exist here: they are retargeted
(repository.full_name, `after`, `ref`) at the temporary repository before signing. Tag deletions
and pings are sent byte for byte as they are, matched to a configured repository by their clone
URL, and must start nothing — without a single Git fetch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lockstep.settings import Settings
from lockstep.webhooks.events import Provider
from lockstep.webhooks.signatures import hmac_sha256_hex
from tests.webhooks.conftest import FakeEnqueuer, retarget, send

REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "realworld" / "github-push"
PAYLOADS = sorted(REALWORLD.glob("*.json")) if REALWORLD.is_dir() else []


def _skip_if_absent() -> None:
    if not PAYLOADS:
        pytest.skip(f"real GitHub payloads not available: {REALWORLD} is absent (a clone has no ../shared)")


def outcome_of(payload: dict[str, Any]) -> str:
    """What GitHub means by this delivery: ping, tag, branch-deleted or branch-push."""
    if "hook_id" in payload or "zen" in payload:
        return "ping"
    if payload["ref"].startswith("refs/tags/"):
        return "tag"
    if payload.get("deleted") or set(payload["after"]) == {"0"}:
        return "branch-deleted"
    return "branch-push"


@pytest.mark.parametrize("path", PAYLOADS or [None], ids=lambda p: p.name if p else "absent")
def test_real_github_delivery(
    path: Path | None, client: TestClient, enqueuer: FakeEnqueuer, head: str, settings: Settings
) -> None:
    _skip_if_absent()
    assert path is not None
    raw = path.read_bytes()
    payload = json.loads(raw)
    kind = outcome_of(payload)
    if kind == "branch-push":
        retargeted = retarget(payload, Provider.GITHUB, sha=head, ref="refs/heads/main")
        response = send(client, Provider.GITHUB, retargeted)
        assert response.status_code == 202, response.text
        assert response.json()["deployments"] == [
            {"id": f"shop.staging.{head[:10]}", "environment": "staging", "commit": head, "existing": False}
        ]
        assert [(c["environment"], c["commit"], c["trigger"]) for c in enqueuer.calls] == [
            ("staging", head, "webhook")
        ]
        assert enqueuer.calls[0]["actor"] == payload["pusher"]["name"]
        again = send(client, Provider.GITHUB, retargeted)  # a redelivery
        assert again.status_code == 202
        assert [d["existing"] for d in again.json()["deployments"]] == [True]
        assert list(enqueuer.queued) == [("staging", head)]
        return

    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "ping" if kind == "ping" else "push",
        "X-GitHub-Delivery": "d1e4a1f0-0000-11e9-8000-000000000000",
        "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex("It's a Secret to Everybody", raw),
    }
    response = client.post("/webhooks/github", content=raw, headers=headers)
    assert response.status_code == 202, response.text
    if kind == "branch-deleted":
        expected = f"branch {payload['ref'].removeprefix('refs/heads/')} deleted"
    else:
        expected = {"ping": "ping", "tag": "tag push: nothing to deploy"}[kind]
    assert response.json() == {"deployments": [], "ignored": expected}
    assert enqueuer.calls == []
    assert not settings.mirrors_dir.exists() or not any(settings.mirrors_dir.iterdir())


@pytest.mark.parametrize("path", PAYLOADS or [None], ids=lambda p: p.name if p else "absent")
def test_real_github_delivery_is_refused_when_tampered(path: Path | None, client: TestClient) -> None:
    _skip_if_absent()
    assert path is not None
    raw = path.read_bytes()
    payload = json.loads(raw)
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "ping" if outcome_of(payload) == "ping" else "push",
        "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex("It's a Secret to Everybody", raw),
    }
    # The first "Hello-World" is in a compare, hook or name field: the repository still matches.
    tampered = raw.replace(b"Hello-World", b"Hello-Wor1d", 1)
    assert tampered != raw
    response = client.post("/webhooks/github", content=tampered, headers=headers)
    assert response.status_code == 401, response.text
