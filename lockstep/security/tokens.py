"""API tokens: which configured user a bearer token belongs to.

A token is never stored: the server configuration holds its SHA-256, compared in constant time
against every user. The API authenticates requests with it (`lockstep.api.identity`); `lockstep
plan` uses it to preview a decision as the user of `LOCKSTEP_TOKEN` would get it. Knowing a
token's SHA-256 lets nobody in: it is what the server compares with, not what a caller presents.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from lockstep.settings import Settings


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    email: str | None


def user_for_token(settings: Settings, token: str) -> User | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    found: User | None = None
    for name, user in settings.users.items():
        # Compare against every user, not stopping early: timing says nothing about which matched.
        if user.token_sha256 and hmac.compare_digest(user.token_sha256.lower(), digest):
            found = User(name=name, groups=tuple(user.groups), email=user.email)
    return found
