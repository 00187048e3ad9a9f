"""Matching deliveries to configured repositories (URL normalisation, secrets by environment
variable) and the token buckets behind the rate limit, on a fake clock."""

from __future__ import annotations

import pytest

from lockstep.settings import RepositorySettings
from lockstep.webhooks.dispatch import environments_for_branch
from lockstep.webhooks.events import RepositoryIdentity
from lockstep.webhooks.limits import TokenBuckets, WebhookLimits
from lockstep.webhooks.repositories import match_repository, normalise_url, webhook_secret


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://GitHub.com/acme/shop.git", "https://github.com/acme/shop"),
        ("https://token:x-oauth@github.com/acme/shop.git/", "https://github.com/acme/shop"),
        ("git@github.com:acme/shop.git", "ssh://git@github.com/acme/shop"),
        ("ssh://git@GITLAB.example.com:2222/acme/shop.git", "ssh://gitlab.example.com:2222/acme/shop/"),
        ("file:///srv/git/shop.git", "/srv/git/shop/"),
    ],
)
def test_spellings_of_one_repository_normalise_alike(a: str, b: str) -> None:
    assert normalise_url(a) == normalise_url(b)


def test_paths_keep_their_case_and_schemes_stay_apart() -> None:
    assert normalise_url("https://github.com/Acme/Shop") != normalise_url("https://github.com/acme/shop")
    assert normalise_url("http://github.com/acme/shop") != normalise_url("https://github.com/acme/shop")


REPOS = [
    RepositorySettings(
        url="https://git.example.com/acme/shop.git", name="acme/shop", webhook_secret_env="SHOP"
    ),
    RepositorySettings(url="git@git.example.com:acme/blog.git", webhook_secret_env="BLOG"),
]


def test_match_by_name_ignoring_case_then_by_url() -> None:
    assert match_repository(REPOS, RepositoryIdentity(("ACME/Shop",), ())) is REPOS[0]
    assert (
        match_repository(REPOS, RepositoryIdentity(("x/y",), ("https://git.example.com/acme/blog",))) is None
    )
    blog = RepositoryIdentity(("x/y",), ("ssh://git@git.example.com/acme/blog.git",))
    assert match_repository(REPOS, blog) is REPOS[1]
    # A configured name wins over a URL naming another repository.
    both = RepositoryIdentity(("acme/shop",), ("git@git.example.com:acme/blog.git",))
    assert match_repository(REPOS, both) is REPOS[0]
    assert match_repository(REPOS, RepositoryIdentity((), ("https://bad:port:x/",))) is None


def test_secret_comes_from_the_named_environment_variable() -> None:
    assert webhook_secret(REPOS[0], {"SHOP": "s3cret"}) == "s3cret"
    assert webhook_secret(REPOS[0], {"SHOP": ""}) is None
    assert webhook_secret(REPOS[0], {}) is None
    assert webhook_secret(RepositorySettings(url="x"), {"SHOP": "s3cret"}) is None


def test_environments_for_a_branch_skip_promotion_targets() -> None:
    from lockstep.domain.source import MemorySourceTree
    from lockstep.manifest.loader import load_manifest
    from tests.webhooks.conftest import MANIFEST

    manifest = load_manifest(MemorySourceTree({"lockstep.yaml": MANIFEST}))
    assert environments_for_branch(manifest, "main") == ["staging"]
    assert environments_for_branch(manifest, "develop") == ["preview"]
    assert environments_for_branch(manifest, "nope") == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_burst_then_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(WebhookLimits(requests_per_minute=60, burst=3), clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("a")
    assert wait == pytest.approx(1.0)
    assert TokenBuckets.retry_after(wait) == "1"
    assert buckets.take("b") == 0.0  # per source
    clock.now += 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refills only up to the burst


def test_idle_sources_are_forgotten() -> None:
    clock = Clock()
    buckets = TokenBuckets(WebhookLimits(requests_per_minute=60, burst=2, max_sources=3), clock=clock)
    for source in ("a", "b", "c"):
        buckets.take(source)
    clock.now += 10  # everyone refilled
    buckets.take("d")
    assert len(buckets._buckets) == 1
    for source in ("e", "f", "g", "h"):
        buckets.take(source)
    assert len(buckets._buckets) <= 3


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        WebhookLimits(burst=0)
    with pytest.raises(ValueError):
        WebhookLimits(max_body_bytes=0)
