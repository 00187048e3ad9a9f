"""Checking that a webhook delivery was sent by someone who knows the repository's secret.

Owns the four header formats, every one compared with `hmac.compare_digest`:

| provider | header | value |
|---|---|---|
| GitHub | `X-Hub-Signature-256` | `sha256=` + hex HMAC-SHA256 of the raw body |
| GitLab | `X-Gitlab-Token` | the secret itself (GitLab does not sign bodies) |
| Gitea | `X-Gitea-Signature` | hex HMAC-SHA256 of the raw body, no prefix |
| generic | `X-Lockstep-Signature` | `sha256=` + hex HMAC-SHA256 of the raw body |

A missing header, an empty secret or a wrong prefix never verifies. Deliberately does not: find
secrets (the router reads the environment variable the server config names), nor log anything —
neither secrets nor the signatures sent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from lockstep.webhooks.events import Provider, header

SIGNATURE_HEADERS: dict[Provider, str] = {
    Provider.GITHUB: "X-Hub-Signature-256",
    Provider.GITLAB: "X-Gitlab-Token",
    Provider.GITEA: "X-Gitea-Signature",
    Provider.GENERIC: "X-Lockstep-Signature",
}


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `body` keyed with the UTF-8 bytes of `secret`."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_github(body: bytes, signature: str | None, secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` over the raw body (JSON or form-encoded)."""
    return _verify_prefixed(body, signature, secret)


def verify_gitlab(token: str | None, secret: str) -> bool:
    """`X-Gitlab-Token: <secret>`: GitLab sends the secret itself, so compare it as it is."""
    if token is None or not secret:
        return False
    return _equal(token, secret)


def verify_gitea(body: bytes, signature: str | None, secret: str) -> bool:
    """`X-Gitea-Signature: <hex>` over the raw body."""
    if signature is None or not secret:
        return False
    return _equal(signature.strip().lower(), hmac_sha256_hex(secret, body))


def verify_generic(body: bytes, signature: str | None, secret: str) -> bool:
    """`X-Lockstep-Signature: sha256=<hex>` over the raw body, the same format as GitHub's."""
    return _verify_prefixed(body, signature, secret)


def verify(provider: Provider, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Whether `headers` carry a valid signature of `body` (or token) for `secret`."""
    sent = header(headers, SIGNATURE_HEADERS[provider])
    if provider is Provider.GITLAB:
        return verify_gitlab(sent, secret)
    if provider is Provider.GITEA:
        return verify_gitea(body, sent, secret)
    if provider is Provider.GITHUB:
        return verify_github(body, sent, secret)
    return verify_generic(body, sent, secret)


def _verify_prefixed(body: bytes, signature: str | None, secret: str) -> bool:
    if signature is None or not secret:
        return False
    scheme, sep, digest = signature.strip().partition("=")
    if not sep or scheme.lower() != "sha256":
        return False
    return _equal(digest.lower(), hmac_sha256_hex(secret, body))


def _equal(sent: str, expected: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may carry anything.
    # Looked up on the module at call time so tests can observe that it is the comparison used.
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode())
