"""A cap on the body of every request but the webhooks', enforced before anything reads it.

FastAPI reads and parses a JSON body before it resolves the bearer token, so without a cap
anyone who can reach the API could make it read and parse a body of any size. Deployment orders
and approval comments are small: past `max_bytes` the answer is 413, whether the client declared
the length or streamed the body. The webhooks keep their own, larger cap and answer 413 themselves
(`lockstep.webhooks.limits`), after the rate limit.

Deliberately does not: authenticate, or look inside the body.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_BODY_MAX_BYTES = 64 * 1024


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes` on any path outside `exempt_prefix`."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int = API_BODY_MAX_BYTES, exempt_prefix: str = "/webhooks/"
    ) -> None:
        self.app, self.max_bytes, self.exempt_prefix = app, max_bytes, exempt_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(self.exempt_prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            body = json.dumps({"detail": self._too_large}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"%d" % len(body)),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException: FastAPI lets it through its body parsing, and the exception
                    # middleware answers it (a streamed body has no length to refuse up front).
                    raise HTTPException(status_code=413, detail=self._too_large)
            return message

        await self.app(scope, counted, send)

    @property
    def _too_large(self) -> str:
        return f"body larger than {self.max_bytes} bytes"
