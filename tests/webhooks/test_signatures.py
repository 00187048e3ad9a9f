"""Signature checks per provider: known vectors, tampering, wrong secrets, missing headers, and
that the comparison is `hmac.compare_digest`."""

from __future__ import annotations

import hmac
from collections.abc import Callable

import pytest

from lockstep.webhooks.events import Provider
from lockstep.webhooks.signatures import (
    SIGNATURE_HEADERS,
    hmac_sha256_hex,
    verify,
    verify_generic,
    verify_gitea,
    verify_github,
    verify_gitlab,
)

SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
# GitHub's documented test vector for X-Hub-Signature-256.
GITHUB_VECTOR = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_documented_vector() -> None:
    assert verify_github(BODY, GITHUB_VECTOR, SECRET)
    assert verify_github(BODY, GITHUB_VECTOR.upper().replace("SHA256=", "sha256="), SECRET)


def test_github_refuses_tampering_wrong_secret_missing_or_unprefixed() -> None:
    assert not verify_github(BODY + b" ", GITHUB_VECTOR, SECRET)
    assert not verify_github(BODY, GITHUB_VECTOR, "another secret")
    assert not verify_github(BODY, None, SECRET)
    assert not verify_github(BODY, GITHUB_VECTOR.removeprefix("sha256="), SECRET)
    assert not verify_github(BODY, "sha1=" + GITHUB_VECTOR.removeprefix("sha256="), SECRET)
    assert not verify_github(BODY, "sha256=", SECRET)


def test_gitea_is_bare_hex() -> None:
    digest = hmac_sha256_hex(SECRET, BODY)
    assert verify_gitea(BODY, digest, SECRET)
    assert not verify_gitea(BODY, "sha256=" + digest, SECRET)
    assert not verify_gitea(b"Hello, World?", digest, SECRET)
    assert not verify_gitea(BODY, None, SECRET)


def test_gitlab_token_is_the_secret() -> None:
    assert verify_gitlab(SECRET, SECRET)
    assert not verify_gitlab(SECRET + "x", SECRET)
    assert not verify_gitlab("", SECRET)
    assert not verify_gitlab(None, SECRET)


def test_generic_is_prefixed_like_github() -> None:
    assert verify_generic(BODY, GITHUB_VECTOR, SECRET)
    assert not verify_generic(BODY, hmac_sha256_hex(SECRET, BODY), SECRET)


def test_an_empty_secret_never_verifies() -> None:
    empty_sig = "sha256=" + hmac_sha256_hex("", BODY)
    assert not verify_github(BODY, empty_sig, "")
    assert not verify_generic(BODY, empty_sig, "")
    assert not verify_gitea(BODY, hmac_sha256_hex("", BODY), "")
    assert not verify_gitlab("", "")


def test_non_ascii_header_is_refused_not_crashed() -> None:
    assert not verify_github(BODY, "sha256=é" + "0" * 63, SECRET)
    assert not verify_gitlab("sécret", SECRET)


@pytest.mark.parametrize("provider", list(Provider))
def test_verify_dispatches_on_the_provider_header(provider: Provider) -> None:
    signed = {
        Provider.GITHUB: GITHUB_VECTOR,
        Provider.GENERIC: GITHUB_VECTOR,
        Provider.GITEA: hmac_sha256_hex(SECRET, BODY),
        Provider.GITLAB: SECRET,
    }[provider]
    name = SIGNATURE_HEADERS[provider]
    assert verify(provider, BODY, {name.lower(): signed}, SECRET)  # header names ignore case
    assert not verify(provider, BODY, {}, SECRET)
    assert not verify(provider, BODY, {name: signed}, "wrong")


@pytest.mark.parametrize(
    "check",
    [
        lambda: verify_github(BODY, GITHUB_VECTOR, SECRET),
        lambda: verify_github(BODY, "sha256=" + "0" * 64, SECRET),
        lambda: verify_gitea(BODY, hmac_sha256_hex(SECRET, BODY), SECRET),
        lambda: verify_gitlab("guess", SECRET),
        lambda: verify_generic(BODY, GITHUB_VECTOR, SECRET),
    ],
    ids=["github-good", "github-bad", "gitea", "gitlab", "generic"],
)
def test_every_comparison_is_constant_time(
    monkeypatch: pytest.MonkeyPatch, check: Callable[[], bool]
) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    check()
    assert len(seen) == 1
