"""Provider payloads -> PushEvent or NonDeployingEvent, and the errors that name what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from lockstep.webhooks.events import (
    MalformedEvent,
    NonDeployingEvent,
    Provider,
    PushEvent,
    delivery_id,
    interpret,
    repository_identity,
)
from tests.webhooks.conftest import load_fixture

SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
GITHUB_PUSH = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "abc-123"}


def github(**changes: Any) -> dict[str, Any]:
    return load_fixture("github-push.json") | changes


def test_github_branch_push() -> None:
    event = interpret(Provider.GITHUB, GITHUB_PUSH, github())
    assert event == PushEvent(
        provider=Provider.GITHUB,
        repository="octo-org/octo-repo",
        clone_urls=(
            "https://github.com/octo-org/octo-repo.git",
            "git@github.com:octo-org/octo-repo.git",
            "https://github.com/octo-org/octo-repo",
            "git://github.com/octo-org/octo-repo.git",
            "https://github.com/octo-org/octo-repo",
        ),
        ref="refs/heads/main",
        branch="main",
        tag=None,
        deleted=False,
        after=SHA,
        delivery="abc-123",
        actor="octocat",
        commit_count=1,
    )


def test_branch_names_may_contain_slashes() -> None:
    event = interpret(Provider.GITHUB, GITHUB_PUSH, github(ref="refs/heads/feature/login"))
    assert isinstance(event, PushEvent) and event.branch == "feature/login"


@pytest.mark.parametrize(
    ("headers", "payload", "reason"),
    [
        ({"X-GitHub-Event": "ping"}, {"zen": "Keep it logically awesome."}, "ping"),
        ({"X-GitHub-Event": "issues"}, {}, "event issues is ignored"),
        (GITHUB_PUSH, github(ref="refs/tags/v1.2.0"), "tag push: nothing to deploy"),
        (
            GITHUB_PUSH,
            github(ref="refs/tags/v1", after="0" * 40, deleted=True),
            "tag push: nothing to deploy",
        ),
        (GITHUB_PUSH, github(after="0" * 40, deleted=True), "branch main deleted"),
        (GITHUB_PUSH, github(deleted=True), "branch main deleted"),
        (
            GITHUB_PUSH,
            github(ref="refs/notes/commits"),
            "ref refs/notes/commits is not a branch: nothing to deploy",
        ),
    ],
    ids=["ping", "other-event", "tag", "tag-deleted", "branch-deleted", "deleted-flag", "notes"],
)
def test_github_events_that_deploy_nothing(
    headers: dict[str, str], payload: dict[str, Any], reason: str
) -> None:
    event = interpret(Provider.GITHUB, headers, payload)
    assert isinstance(event, NonDeployingEvent)
    assert event.reason == reason


def test_gitlab_push_tag_push_and_system_hook() -> None:
    push = load_fixture("gitlab-push.json")
    event = interpret(Provider.GITLAB, {"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "k1"}, push)
    assert isinstance(event, PushEvent)
    assert (event.repository, event.branch, event.actor, event.commit_count) == (
        "mike/diaspora",
        "main",
        "jsmith",
        4,
    )
    assert event.delivery == "k1"
    assert "git@example.com:mike/diaspora.git" in event.clone_urls
    tag = interpret(
        Provider.GITLAB, {"X-Gitlab-Event": "Tag Push Hook"}, load_fixture("gitlab-tag-push.json")
    )
    assert isinstance(tag, NonDeployingEvent) and tag.reason == "tag push: nothing to deploy"
    assert tag.push is not None and tag.push.tag == "v1.0.0"
    system = interpret(Provider.GITLAB, {"X-Gitlab-Event": "System Hook"}, push)
    assert isinstance(system, PushEvent)
    note = interpret(Provider.GITLAB, {"X-Gitlab-Event": "Note Hook"}, {"object_kind": "note"})
    assert note == NonDeployingEvent("event Note Hook is ignored")


def test_gitea_push_and_its_fallback_headers() -> None:
    payload = load_fixture("gitea-push.json")
    event = interpret(Provider.GITEA, {"X-Gitea-Event": "push", "X-Gitea-Delivery": "d-1"}, payload)
    assert isinstance(event, PushEvent)
    assert (event.repository, event.actor, event.commit_count, event.delivery) == (
        "gitea/webhooks",
        "gitea",
        1,
        "d-1",
    )
    assert isinstance(interpret(Provider.GITEA, {"X-Gogs-Event": "push"}, payload), PushEvent)
    assert interpret(Provider.GITEA, {"X-Gitea-Event": "create"}, payload) == NonDeployingEvent(
        "event create is ignored"
    )


def test_generic_push() -> None:
    event = interpret(Provider.GENERIC, {}, load_fixture("generic-push.json"))
    assert isinstance(event, PushEvent)
    assert (event.repository, event.branch, event.delivery, event.actor) == (
        "octo-org/octo-repo",
        "main",
        "ci-run-4711",
        "release-bot",
    )
    assert event.clone_urls == ("octo-org/octo-repo",)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (github(ref=None), "ref is missing"),
        (github(ref="main"), "not a full ref name"),
        (github(after="abc"), "not a full commit sha"),
        (github(after=12), "after is missing or not a string"),
        (github(repository="octo-org/octo-repo"), "repository is missing"),
    ],
)
def test_malformed_pushes_name_the_problem(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedEvent, match=message) as info:
        interpret(Provider.GITHUB, GITHUB_PUSH, payload)
    assert isinstance(info.value, ValueError)


def test_missing_event_header_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="missing X-GitHub-Event header"):
        interpret(Provider.GITHUB, {}, github())
    with pytest.raises(MalformedEvent, match="missing X-Gitlab-Event header"):
        interpret(Provider.GITLAB, {}, load_fixture("gitlab-push.json"))


def test_sha256_repositories_are_accepted() -> None:
    event = interpret(Provider.GITHUB, GITHUB_PUSH, github(after="ab" * 32))
    assert isinstance(event, PushEvent) and event.after == "ab" * 32


def test_delivery_ids_are_made_safe_to_log() -> None:
    headers = {"X-GitHub-Delivery": "abc\nINFO forged line " + "x" * 200}
    delivery = delivery_id(Provider.GITHUB, headers)
    assert delivery is not None and "\n" not in delivery and " " not in delivery and len(delivery) == 80
    assert delivery_id(Provider.GITHUB, {}) is None


def test_repository_identity_is_lenient() -> None:
    assert repository_identity(Provider.GITHUB, {"repository": "not an object"}).names == ()
    assert repository_identity(Provider.GITLAB, {}).urls == ()
    assert repository_identity(Provider.GENERIC, {"repository": 3}).names == ()
