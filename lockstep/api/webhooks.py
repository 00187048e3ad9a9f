"""The webhook endpoints (docs/webhooks.md): `POST /webhooks/{github,gitlab,gitea,generic}`.

Owns the HTTP side of a Git event, checked in this order: content type (415), body size read
with a cap (413), rate limit per source address (429), malformed JSON or JSON nested deeper than
`MAX_NESTING_DEPTH` (400), the signature header's presence (401), then the signature against the
secret of the configured repository the payload names (401). An unknown repository, one without
a secret and a wrong signature get the same answer after the same work (an HMAC against a
throwaway key when there is no secret), so no caller learns which repositories exist. Then the
event itself: a branch push reads `lockstep.yaml` at the pushed commit (422 if it is invalid or
past `MANIFEST_MAX_BYTES`, refused before it is read) and asks the `DeploymentEnqueuer` for a
deployment in every environment that deploys that branch; the answer is 202 with those
deployments, or 202 with the reason nothing deploys.

Deliberately does not: parse payloads or check signatures itself (`lockstep.webhooks`), nor
deduplicate deliveries in memory: the enqueuer's Temporal workflow ids make a redelivery answer
with the deployment it already started. Logs carry provider, delivery id and outcome only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.client import Client

from lockstep.domain.errors import LockstepError, ManifestError
from lockstep.domain.limits import MANIFEST_MAX_BYTES, MAX_NESTING_DEPTH
from lockstep.domain.redaction import safe_url
from lockstep.domain.source import MemorySourceTree, PathOutsideRepository
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.manifest.loader import load_manifest
from lockstep.manifest.schema import Manifest
from lockstep.orchestration.client import connect
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.settings import RepositorySettings, Settings
from lockstep.store.engine import Store
from lockstep.webhooks.dispatch import DeploymentEnqueuer, EnqueuedDeployment, environments_for_branch
from lockstep.webhooks.events import (
    MalformedEvent,
    NonDeployingEvent,
    Provider,
    delivery_id,
    interpret,
    repository_identity,
)
from lockstep.webhooks.limits import TokenBuckets, WebhookLimits
from lockstep.webhooks.repositories import match_repository, webhook_secret
from lockstep.webhooks.signatures import SIGNATURE_HEADERS, verify

log = logging.getLogger("lockstep.webhooks")
MANIFEST_FILE = "lockstep.yaml"
_MANIFESTS_KEPT = 64
_T = TypeVar("_T")

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


class WebhookDeployment(BaseModel):
    id: str
    environment: str
    commit: str
    existing: bool


class WebhookResponse(BaseModel):
    deployments: list[WebhookDeployment]
    ignored: str | None = None


class _Rejected(Exception):
    """An answer other than 202; `reason`, when given, is what the log says instead of `detail`
    (the operator may learn what the caller must not)."""

    def __init__(
        self, status: int, detail: str, headers: Mapping[str, str] | None = None, *, reason: str = ""
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, dict(headers or {})
        self.reason = reason or detail


class _Webhooks:
    def __init__(
        self,
        settings: Settings,
        enqueuer: DeploymentEnqueuer,
        git: GitMirrors,
        limits: WebhookLimits,
        environ: Mapping[str, str] | None,
    ) -> None:
        self.settings, self.enqueuer, self.git, self.limits = settings, enqueuer, git, limits
        self.environ = environ
        self.buckets = TokenBuckets(limits)
        self._manifests: OrderedDict[str, Manifest] = OrderedDict()  # sha256 of the file -> parsed
        self._manifests_guard = threading.Lock()
        # Verified against when a delivery names no repository with a secret; never matches.
        self._decoy_secret = secrets.token_hex(32)

    async def receive(self, provider: Provider, request: Request) -> JSONResponse:
        delivery = delivery_id(provider, request.headers)
        try:
            body, form = await self._read(provider, request)
            self._rate_limit(request)
            payload = _decode(body, form)
            delivery = delivery_id(provider, request.headers, payload)
            repo = self._authenticate(provider, request, body, payload)
            answer = await self._act(provider, request, payload, repo)
        except _Rejected as rejected:
            log.info("webhook %s delivery=%s: %d %s", provider, delivery, rejected.status, rejected.reason)
            return JSONResponse({"detail": rejected.detail}, rejected.status, headers=rejected.headers)
        started = [d.id for d in answer.deployments if not d.existing]
        outcome = answer.ignored or f"deployments {[d.id for d in answer.deployments]} (new: {started})"
        log.info("webhook %s delivery=%s: 202 %s", provider, delivery, outcome)
        return JSONResponse(answer.model_dump(), status_code=202)

    async def _read(self, provider: Provider, request: Request) -> tuple[bytes, bool]:
        """The raw body, capped; and whether it is GitHub's form encoding."""
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        form = provider is Provider.GITHUB and media == FORM
        if media != JSON and not form:
            allowed = f"{JSON} or {FORM}" if provider is Provider.GITHUB else JSON
            raise _Rejected(415, f"Content-Type must be {allowed}")
        limit = self.limits.max_body_bytes
        too_large = _Rejected(413, f"body larger than {limit} bytes")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks), form

    def _rate_limit(self, request: Request) -> None:
        source = request.client.host if request.client else "unknown"
        wait = self.buckets.take(source)
        if wait > 0:
            retry = TokenBuckets.retry_after(wait)
            raise _Rejected(429, f"too many webhook requests; retry in {retry} s", {"Retry-After": retry})

    def _authenticate(
        self, provider: Provider, request: Request, body: bytes, payload: Mapping[str, Any]
    ) -> RepositorySettings:
        signature_header = SIGNATURE_HEADERS[provider]
        if signature_header not in request.headers:
            raise _Rejected(401, f"missing {signature_header} header")
        repo = match_repository(self.settings.repositories, repository_identity(provider, payload))
        secret = webhook_secret(repo, self.environ) if repo is not None else None
        # One answer, after the same work, for "no such repository", "no secret" and "wrong
        # signature": a different one would tell a caller which repositories are configured.
        valid = verify(provider, body, request.headers, secret or self._decoy_secret)
        if repo is None or secret is None or not valid:
            reason = (
                "no configured repository matches"
                if repo is None
                else f"no webhook secret configured for {repo.name or safe_url(repo.url)}"
                if secret is None
                else f"{signature_header} does not match"
            )
            raise _Rejected(401, _NOT_VERIFIED.format(header=signature_header), reason=reason)
        return repo

    async def _act(
        self, provider: Provider, request: Request, payload: Mapping[str, Any], repo: RepositorySettings
    ) -> WebhookResponse:
        try:
            event = interpret(provider, request.headers, payload)
        except MalformedEvent as err:
            raise _Rejected(400, f"malformed {provider} event: {err}") from None
        if isinstance(event, NonDeployingEvent):
            return WebhookResponse(deployments=[], ignored=event.reason)
        assert event.branch is not None  # interpret answers PushEvent for branch pushes only
        manifest = await _guarded(asyncio.to_thread(self._manifest_at, repo.url, event.after))
        environments = environments_for_branch(manifest, event.branch)
        if not environments:
            return WebhookResponse(deployments=[], ignored=f"no environment deploys branch {event.branch}")
        deployments = []
        for environment in environments:  # in manifest order; a redelivery repeats them harmlessly
            enqueued = await _guarded(
                self.enqueuer(
                    application=manifest.application,
                    environment=environment,
                    repository=repo.url,
                    commit=event.after,
                    trigger="webhook",
                    actor=event.actor,
                )
            )
            deployments.append(_view(enqueued))
        return WebhookResponse(deployments=deployments, ignored=None)

    def _manifest_at(self, url: str, sha: str) -> Manifest:
        """lockstep.yaml as of the pushed commit (fetched first when the mirror lacks it).

        Parsed manifests are kept by content: a manifest depends on the file's bytes alone, and
        most pushes do not change it.
        """
        try:
            files = {MANIFEST_FILE: self.git.root_file(url, sha, MANIFEST_FILE, max_bytes=MANIFEST_MAX_BYTES)}
        except FileNotFoundError:
            files = {}
        except PathOutsideRepository:
            raise ManifestError(
                MANIFEST_FILE, "", "path leaves the repository (a symlink points outside it)"
            ) from None
        key = hashlib.sha256(files.get(MANIFEST_FILE, b"")).hexdigest() if files else ""
        with self._manifests_guard:
            cached = self._manifests.get(key) if key else None
            if cached is not None:
                self._manifests.move_to_end(key)
                return cached
        manifest = load_manifest(MemorySourceTree(files))
        with self._manifests_guard:
            self._manifests[key] = manifest
            while len(self._manifests) > _MANIFESTS_KEPT:
                self._manifests.popitem(last=False)
        return manifest


def create_webhook_router(
    settings: Settings,
    enqueuer: DeploymentEnqueuer,
    git: GitMirrors,
    *,
    limits: WebhookLimits | None = None,
    environ: Mapping[str, str] | None = None,
) -> APIRouter:
    """The `/webhooks/...` routes. Secrets are read from `environ` (default: `os.environ`) on
    every delivery, by the variable name each repository's `webhook_secret_env` gives."""
    webhooks = _Webhooks(settings, enqueuer, git, limits or WebhookLimits(), environ)
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])
    for provider in Provider:
        router.add_api_route(
            f"/{provider.value}",
            _endpoint(webhooks, provider),
            methods=["POST"],
            status_code=202,
            response_model=WebhookResponse,
            name=f"webhook_{provider.value}",
            summary=f"Receive a {provider.value} push event (signed with {SIGNATURE_HEADERS[provider]})",
            responses={code: {"description": text} for code, text in _ERRORS.items()},
            openapi_extra={
                "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}}
            },
        )
    return router


class TemporalEnqueuer:
    """The default enqueuer: connects to Temporal on first use, then hands each deployment to its
    environment lane (`lockstep.orchestration.lanes.enqueue_deployment`)."""

    def __init__(self, *, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self._client: Client | None = None
        self._connecting = asyncio.Lock()

    async def __call__(
        self,
        *,
        application: str,
        environment: str,
        repository: str,
        commit: str,
        trigger: str,
        actor: str | None,
    ) -> EnqueuedDeployment:
        enqueued: EnqueuedDeployment = await enqueue_deployment(
            client=await self._connect(),
            settings=self.settings,
            store=self.store,
            application=application,
            environment=environment,
            repository=repository,
            commit=commit,
            trigger=trigger,
            actor=actor,
        )
        return enqueued

    async def _connect(self) -> Client:
        async with self._connecting:
            if self._client is None:
                self._client = await connect(self.settings.temporal)
            return self._client


_NOT_VERIFIED = "{header} does not verify against the secret of a configured repository"
_ERRORS = {
    400: f"malformed JSON, nested deeper than {MAX_NESTING_DEPTH} levels, or not a push of the "
    "provider's shape",
    401: "a missing signature header, or a signature that does not verify: the repository is not "
    "configured, has no secret, or the signature is wrong (one answer for all three)",
    413: "body too large",
    415: "wrong Content-Type",
    422: "lockstep.yaml at the pushed commit is invalid or too large, or the commit cannot be found",
    429: "rate limit exceeded (see Retry-After)",
    503: "Git or Temporal unavailable; retry later",
}


def _endpoint(webhooks: _Webhooks, provider: Provider) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        return await webhooks.receive(provider, request)

    endpoint.__doc__ = f"Verify and act on a {provider.value} webhook delivery (see docs/webhooks.md)."
    return endpoint


def _decode(body: bytes, form: bool) -> Mapping[str, Any]:
    try:
        if form:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
            if len(fields.get("payload", [])) != 1:
                raise _Rejected(400, "form-encoded body must carry exactly one payload field")
            text = fields["payload"][0].encode()
        else:
            text = body
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _Rejected(400, f"malformed JSON: {err}") from None
    except RecursionError:  # the decoder recurses per level; past Python's limit it gives up
        raise _Rejected(400, _TOO_DEEP) from None
    if not isinstance(data, dict):
        raise _Rejected(400, "malformed JSON: expected an object at the top level")
    # Each level opens a bracket: a body with few of them cannot be too deep, and skips the walk.
    if text.count(b"[") + text.count(b"{") > MAX_NESTING_DEPTH and _deeper_than(data, MAX_NESTING_DEPTH):
        raise _Rejected(400, _TOO_DEEP)
    return data


_TOO_DEEP = f"malformed JSON: nested deeper than {MAX_NESTING_DEPTH} levels"


def _deeper_than(value: object, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels in `value` (iteratively: a
    recursive walk is what the bound protects against)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


async def _guarded(work: Awaitable[_T]) -> _T:
    """Lockstep errors as HTTP answers: retryable ones (Git or Temporal unreachable) 503, so the
    Git host retries the delivery; the others (a bad manifest, an unknown commit) 422."""
    try:
        return await work
    except ManifestError as err:
        raise _Rejected(422, f"lockstep.yaml at the pushed commit is invalid: {err}") from None
    except LockstepError as err:  # messages never carry credentials (see domain.redaction)
        raise _Rejected(503 if err.retryable else 422, str(err)) from None


def _view(enqueued: EnqueuedDeployment) -> WebhookDeployment:
    return WebhookDeployment(
        id=enqueued.deployment_id,
        environment=enqueued.environment,
        commit=enqueued.commit,
        existing=enqueued.existing,
    )
