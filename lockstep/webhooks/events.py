"""Provider push payloads -> one `PushEvent`, or a `NonDeployingEvent` saying why nothing deploys.

Owns the shapes of GitHub, GitLab, Gitea and the generic Lockstep payload: which header names the
event and the delivery, where the repository's name and clone URLs live, the pushed ref and sha,
who pushed. `repository_identity` is lenient (it runs before the signature is checked, only to
find which secret to check it with); `interpret` is strict and raises `MalformedEvent` naming
the field that is wrong.

Deliberately does not: verify signatures (`signatures`), match repositories (`repositories`) or
decide which environments a branch deploys (`dispatch`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1, or SHA-256 object format
_DELIVERY_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


class Provider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"
    GENERIC = "generic"


class MalformedEvent(ValueError):
    """A payload that parses as JSON but is not a push of the provider's documented shape."""


@dataclass(frozen=True)
class RepositoryIdentity:
    """What a payload says about its repository: full names and URLs, as sent."""

    names: tuple[str, ...]
    urls: tuple[str, ...]


@dataclass(frozen=True)
class PushEvent:
    provider: Provider
    repository: str  # full name, e.g. octo-org/octo-repo (the generic provider: name or URL)
    clone_urls: tuple[str, ...]
    ref: str
    branch: str | None  # None unless ref is refs/heads/...
    tag: str | None  # None unless ref is refs/tags/...
    deleted: bool
    after: str
    delivery: str | None
    actor: str | None
    commit_count: int


@dataclass(frozen=True)
class NonDeployingEvent:
    """A verified event that starts nothing; `reason` goes into the response body."""

    reason: str
    delivery: str | None = None
    push: PushEvent | None = None


_EVENT_HEADERS: dict[Provider, tuple[str, ...]] = {
    Provider.GITHUB: ("X-GitHub-Event",),
    Provider.GITLAB: ("X-Gitlab-Event",),
    Provider.GITEA: ("X-Gitea-Event", "X-Gogs-Event", "X-GitHub-Event"),
    Provider.GENERIC: ("X-Lockstep-Event",),
}
_DELIVERY_HEADERS: dict[Provider, tuple[str, ...]] = {
    Provider.GITHUB: ("X-GitHub-Delivery",),
    # Idempotency-Key (GitLab 17.4+) stays the same across retries; the UUIDs are older.
    Provider.GITLAB: ("Idempotency-Key", "X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID"),
    Provider.GITEA: ("X-Gitea-Delivery", "X-Gogs-Delivery", "X-GitHub-Delivery"),
    Provider.GENERIC: ("X-Lockstep-Delivery",),
}
_GITLAB_PUSH_HOOKS = {"Push Hook", "Tag Push Hook", "System Hook"}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by case-insensitive name (works for plain dicts and Starlette Headers)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def delivery_id(
    provider: Provider, headers: Mapping[str, str], payload: Mapping[str, Any] | None = None
) -> str | None:
    """The provider's delivery id, made safe to log (at most 80 characters of [A-Za-z0-9._:-])."""
    raw = next((v for h in _DELIVERY_HEADERS[provider] if (v := header(headers, h))), None)
    if raw is None and provider is Provider.GENERIC and payload is not None:
        body_value = payload.get("delivery")
        raw = body_value if isinstance(body_value, str) else None
    if not raw:
        return None
    return _DELIVERY_UNSAFE.sub("_", raw)[:80]


def repository_identity(provider: Provider, payload: Mapping[str, Any]) -> RepositoryIdentity:
    """Names and URLs the payload gives for its repository; empty when it gives none."""
    if provider is Provider.GENERIC:
        value = payload.get("repository")
        return RepositoryIdentity((value,), (value,)) if isinstance(value, str) and value else _NOBODY
    if provider is Provider.GITLAB:
        project = _mapping(payload.get("project"))
        repository = _mapping(payload.get("repository"))
        names = _strings(project, "path_with_namespace")
        urls = _strings(project, "git_http_url", "git_ssh_url", "http_url", "ssh_url", "web_url", "url")
        urls += _strings(repository, "git_http_url", "git_ssh_url", "url", "homepage")
        return RepositoryIdentity(names, urls)
    repository = _mapping(payload.get("repository"))
    return RepositoryIdentity(
        _strings(repository, "full_name"),
        _strings(repository, "clone_url", "ssh_url", "html_url", "git_url", "url"),
    )


def interpret(
    provider: Provider, headers: Mapping[str, str], payload: Mapping[str, Any]
) -> PushEvent | NonDeployingEvent:
    """A branch push that may deploy, or why this event deploys nothing.

    Pings, tag pushes (created, moved or deleted), branch deletions, refs that are neither
    branches nor tags and event types other than push all deploy nothing.
    """
    delivery = delivery_id(provider, headers, payload)
    event = _event_type(provider, headers)
    if event == "ping":
        return NonDeployingEvent("ping", delivery)
    if not _is_push(provider, event, payload):
        return NonDeployingEvent(f"event {event} is ignored", delivery)
    push = parse_push(provider, payload, delivery=delivery)
    if push.tag is not None:
        return NonDeployingEvent("tag push: nothing to deploy", delivery, push)
    if push.branch is None:
        return NonDeployingEvent(f"ref {push.ref} is not a branch: nothing to deploy", delivery, push)
    if push.deleted:
        return NonDeployingEvent(f"branch {push.branch} deleted", delivery, push)
    return push


def parse_push(provider: Provider, payload: Mapping[str, Any], *, delivery: str | None) -> PushEvent:
    """Any push (branch or tag, created, updated or deleted) as a PushEvent; MalformedEvent if the
    payload lacks what every push carries."""
    ref = _required_str(payload, "ref")
    if not ref.startswith("refs/"):
        raise MalformedEvent(f"ref {ref!r} is not a full ref name (refs/heads/... or refs/tags/...)")
    after = _required_str(payload, "after").lower()
    if not _SHA.fullmatch(after):
        raise MalformedEvent(f"after {after[:80]!r} is not a full commit sha")
    identity = repository_identity(provider, payload)
    if not identity.names and not identity.urls:
        raise MalformedEvent("repository is missing")
    deleted = set(after) == {"0"} or payload.get("deleted") is True
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    tag = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None
    return PushEvent(
        provider=provider,
        repository=identity.names[0] if identity.names else identity.urls[0],
        clone_urls=identity.urls,
        ref=ref,
        branch=branch or None,
        tag=tag or None,
        deleted=deleted,
        after=after,
        delivery=delivery,
        actor=_actor(provider, payload),
        commit_count=_commit_count(provider, payload),
    )


# -- internals -------------------------------------------------------------------------------------

_NOBODY = RepositoryIdentity((), ())


def _event_type(provider: Provider, headers: Mapping[str, str]) -> str:
    value = next((v for h in _EVENT_HEADERS[provider] if (v := header(headers, h))), None)
    if value is None:
        if provider is Provider.GENERIC:
            return "push"  # the generic endpoint's only event
        raise MalformedEvent(f"missing {_EVENT_HEADERS[provider][0]} header")
    value = value.strip()
    return value.lower() if provider is not Provider.GITLAB else value


def _is_push(provider: Provider, event: str, payload: Mapping[str, Any]) -> bool:
    if provider is Provider.GITLAB:
        # System hooks carry every event type under one header; the payload says which.
        kind = payload.get("object_kind") or payload.get("event_name")
        return event in _GITLAB_PUSH_HOOKS and kind in ("push", "tag_push")
    return event == "push"


def _actor(provider: Provider, payload: Mapping[str, Any]) -> str | None:
    if provider is Provider.GITLAB:
        names = _strings(payload, "user_username", "user_name")
    elif provider is Provider.GITEA:
        names = _strings(_mapping(payload.get("pusher")), "login", "username")
    elif provider is Provider.GITHUB:
        names = _strings(_mapping(payload.get("pusher")), "name")
        names += _strings(_mapping(payload.get("sender")), "login")
    else:
        names = _strings(payload, "actor")
    return names[0] if names else None


def _commit_count(provider: Provider, payload: Mapping[str, Any]) -> int:
    key = {Provider.GITLAB: "total_commits_count", Provider.GITEA: "total_commits"}.get(provider)
    total = payload.get(key) if key else None
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        return total
    commits = payload.get("commits")
    return len(commits) if isinstance(commits, list) else 0


def _required_str(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{key} is missing or not a string")
    return value


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(source: Mapping[str, Any], *keys: str) -> tuple[str, ...]:
    return tuple(v for k in keys if isinstance(v := source.get(k), str) and v)
