"""Who is calling: API bearer tokens mapped to the users of the server configuration.

A token is never stored: the configuration holds its SHA-256, compared in constant time. Every
non-webhook write depends on `authenticated_user`; a missing or unknown token is 401.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Header, HTTPException

from lockstep.settings import Settings


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    email: str | None
    token_sha256: str = ""  # of the token this request presented (keys approval proofs)


def user_for_token(settings: Settings, token: str) -> User | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    found: User | None = None
    for name, user in settings.users.items():
        # Compare against every user, not stopping early: timing says nothing about which matched.
        if user.token_sha256 and hmac.compare_digest(user.token_sha256.lower(), digest):
            found = User(name=name, groups=tuple(user.groups), email=user.email, token_sha256=digest)
    return found


def bearer_dependency(settings: Settings) -> Callable[..., User]:
    """A FastAPI dependency resolving `Authorization: Bearer <token>` to a configured user."""

    def authenticated_user(authorization: str | None = Header(default=None)) -> User:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                status_code=401,
                detail="missing bearer token (Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        user = user_for_token(settings, token.strip())
        if user is None:
            raise HTTPException(
                status_code=401, detail="unknown token", headers={"WWW-Authenticate": "Bearer"}
            )
        return user

    return authenticated_user
