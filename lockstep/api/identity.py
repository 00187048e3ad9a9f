"""Who is calling: API bearer tokens mapped to the users of the server configuration.

Tokens resolve to users in `lockstep.security.tokens`. Every
endpoint but the webhooks and the health probes depends on `authenticated_user` (reads too,
unless `api.anonymous_read`); a missing or unknown token is 401. Knowing a token's SHA-256 lets
nobody in: it is what the server compares with, not what a caller presents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Header, HTTPException
from pydantic import BaseModel

from lockstep.security.tokens import User, user_for_token
from lockstep.settings import Settings

__all__ = ["UNAUTHORIZED", "User", "bearer_dependency", "read_dependencies", "user_for_token"]


class ErrorDetail(BaseModel):
    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class RequestInvalid(BaseModel):
    """What FastAPI answers (422) when a request does not match its declared shape."""

    detail: list[ValidationIssue]


def unprocessable(description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI of a 422 an endpoint answers both for a malformed request (FastAPI's list of
    issues) and for a well-formed one Lockstep refuses (one `detail` sentence naming the cause)."""
    return {422: {"description": description, "model": ErrorDetail | RequestInvalid}}


# For every endpoint that reads a JSON body: one that cannot be read at all (not UTF-8), and one
# past the cap of lockstep.api.body_limit.
MALFORMED_BODY: dict[int | str, dict[str, Any]] = {
    400: {"description": "the body cannot be read (e.g. not UTF-8)", "model": ErrorDetail},
    413: {"description": "the body is larger than 64 KiB", "model": ErrorDetail},
}


def unavailable(description: str) -> dict[int | str, dict[str, Any]]:
    return {503: {"description": description, "model": ErrorDetail}}


# For the OpenAPI of every endpoint that depends on `authenticated_user`: the 401 it can answer.
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "missing or unknown bearer token (Authorization: Bearer <token>)",
        "model": ErrorDetail,
    }
}


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


def read_dependencies(settings: Settings) -> tuple[list[Any], dict[int | str, dict[str, Any]]]:
    """(dependencies, OpenAPI responses) for a read endpoint: the bearer token, unless the server
    configuration sets `api.anonymous_read`, in which case a read never answers 401."""
    if settings.api.anonymous_read:
        return [], {}
    return [Depends(bearer_dependency(settings))], dict(UNAUTHORIZED)
