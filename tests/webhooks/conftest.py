"""Webhook fixtures: a real application repository and mirror cache under tmp_path, settings
naming it, a fake enqueuer that behaves like environment lanes on redelivery, and helpers that
sign deliveries the way each Git host does."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from lockstep.api.webhooks import create_webhook_router
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.webhooks.events import Provider
from lockstep.webhooks.limits import WebhookLimits
from lockstep.webhooks.signatures import hmac_sha256_hex
from tests.support.apprepo import commit, git

SECRET = "It's a Secret to Everybody"
SECRET_ENV = "TEST_WEBHOOK_SECRET"
REPO_NAME = "octo-org/octo-repo"
FIXTURES = Path(__file__).parent / "fixtures"

MANIFEST = """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {site: local-test}
  - name: production
    branch: main
    promote_from: staging
    targets: {site: local-production}
  - name: preview
    branch: develop
    targets: {site: local-preview}
components:
  - name: web
    target: site
    host:
      files: [{src: web/, dest: /srv/web}]
"""

# Repositories the real GitHub payloads name, matched by URL so they can be sent unmodified.
CODERTOCAT_URL = "https://github.com/Codertocat/Hello-World.git"
OCTOCODERS_URL = "https://github.com/Octocoders/Hello-World.git"


@dataclass(frozen=True)
class FakeEnqueued:
    deployment_id: str
    environment: str
    commit: str
    existing: bool


@dataclass
class FakeEnqueuer:
    """Records every call; a second call for the same (environment, commit) answers existing=True,
    as the environment lane does through Temporal workflow ids."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    queued: dict[tuple[str, str], FakeEnqueued] = field(default_factory=dict)
    error: Exception | None = None

    async def __call__(
        self,
        *,
        application: str,
        environment: str,
        repository: str,
        commit: str,
        trigger: str,
        actor: str | None,
    ) -> FakeEnqueued:
        self.calls.append(
            {
                "application": application,
                "environment": environment,
                "repository": repository,
                "commit": commit,
                "trigger": trigger,
                "actor": actor,
            }
        )
        if self.error is not None:
            raise self.error
        key = (environment, commit)
        if key in self.queued:
            first = self.queued[key]
            return FakeEnqueued(first.deployment_id, environment, commit, existing=True)
        self.queued[key] = FakeEnqueued(
            f"{application}.{environment}.{commit[:10]}", environment, commit, False
        )
        return self.queued[key]


@pytest.fixture
def source_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "octo-repo"
    commit(repo, {"lockstep.yaml": MANIFEST, "web/index.html": "<h1>hello</h1>\n"}, "first version")
    return repo


@pytest.fixture
def head(source_repo: Path) -> str:
    return git(source_repo, "rev-parse", "HEAD")


@pytest.fixture
def settings(tmp_path: Path, source_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv("TEST_EMPTY_SECRET", "")
    return Settings(
        state_dir=str(tmp_path / "state"),
        database_url=f"sqlite:///{tmp_path / 'lockstep.db'}",
        repositories=[
            {"url": str(source_repo), "name": REPO_NAME, "webhook_secret_env": SECRET_ENV},
            {"url": CODERTOCAT_URL, "webhook_secret_env": SECRET_ENV},
            {"url": OCTOCODERS_URL, "webhook_secret_env": SECRET_ENV},
            {"url": "https://git.example.com/unsigned.git", "name": "octo-org/unsigned"},
            {
                "url": "https://git.example.com/empty.git",
                "name": "octo-org/empty",
                "webhook_secret_env": "TEST_EMPTY_SECRET",
            },
        ],
    )


@pytest.fixture
def mirrors(settings: Settings) -> GitMirrors:
    return GitMirrors(settings.mirrors_dir)


@pytest.fixture
def enqueuer() -> FakeEnqueuer:
    return FakeEnqueuer()


def webhook_app(
    settings: Settings, enqueuer: FakeEnqueuer, git: GitMirrors, limits: WebhookLimits | None = None
) -> FastAPI:
    app = FastAPI()
    app.include_router(create_webhook_router(settings, enqueuer, git, limits=limits))
    return app


@pytest.fixture
def client(settings: Settings, enqueuer: FakeEnqueuer, mirrors: GitMirrors) -> Iterator[TestClient]:
    with TestClient(webhook_app(settings, enqueuer, mirrors)) as c:
        yield c


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def retarget(
    payload: Mapping[str, Any], provider: Provider, *, sha: str, ref: str | None = None
) -> dict[str, Any]:
    """A copy of `payload` naming the test repository, pushing `sha` (and `ref`, if given)."""
    copied = copy.deepcopy(dict(payload))
    if provider is Provider.GITLAB:
        copied["project"]["path_with_namespace"] = REPO_NAME
        copied["checkout_sha"] = sha
    elif provider is Provider.GENERIC:
        copied["repository"] = REPO_NAME
    else:
        copied["repository"]["full_name"] = REPO_NAME
    copied["after"] = sha
    if ref is not None:
        copied["ref"] = ref
    return copied


def signed_headers(
    provider: Provider, body: bytes, *, secret: str = SECRET, event: str | None = None
) -> dict[str, str]:
    """The headers the Git host would send with `body`."""
    headers = {"Content-Type": "application/json"}
    if provider is Provider.GITHUB:
        headers |= {
            "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(secret, body),
            "X-GitHub-Event": event or "push",
            "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        }
    elif provider is Provider.GITLAB:
        headers |= {
            "X-Gitlab-Token": secret,
            "X-Gitlab-Event": event or "Push Hook",
            "X-Gitlab-Event-UUID": "13792a34-cac6-4fda-95a8-c58e00a3954e",
        }
    elif provider is Provider.GITEA:
        headers |= {
            "X-Gitea-Signature": hmac_sha256_hex(secret, body),
            "X-Gitea-Event": event or "push",
            "X-Gitea-Delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473",
        }
    else:
        headers["X-Lockstep-Signature"] = "sha256=" + hmac_sha256_hex(secret, body)
    return headers


def send(
    client: TestClient,
    provider: Provider,
    payload: Mapping[str, Any],
    *,
    secret: str = SECRET,
    event: str | None = None,
) -> Response:
    body = json.dumps(payload).encode()
    response: Response = client.post(
        f"/webhooks/{provider.value}",
        content=body,
        headers=signed_headers(provider, body, secret=secret, event=event),
    )
    return response
