"""A lean HTTP/1.1 client for load generators: keep-alive connections over asyncio streams.

The load generator shares the machine with the server it measures, so every millisecond of CPU
it spends per request is taken from the thing being measured. httpx costs about 1.5 ms of CPU
per request here; writing a prepared request and reading a `Content-Length` answer costs a
fraction of that. It speaks only what the benchmarks need: one request at a time per connection,
answers with `Content-Length` (uvicorn sends it for every JSON response), `Connection: close`
honoured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping


class HttpError(Exception):
    """The server answered something this client does not speak, or closed the connection."""


class _Stale(Exception):
    """The connection was closed before a byte of the answer arrived."""


class LoopbackClient:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def prepare(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> bytes:
        """The request's bytes, built once before any timing starts."""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send a prepared request on an idle connection (or a new one); status and body.

        A kept-alive connection the server closed meanwhile (uvicorn drops idle ones after its
        keep-alive timeout) is retried once on a fresh connection, as HTTP clients do.
        """
        while self._idle:
            reader, writer = self._idle.pop()
            try:
                return await self._exchange(reader, writer, request)
            except _Stale:
                continue
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            return await self._exchange(reader, writer, request)
        except _Stale as err:
            raise HttpError(f"connection closed before an answer: {err}") from None

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int, bytes]:
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError) as err:
            writer.close()
            if isinstance(err, asyncio.IncompleteReadError) and not err.partial:
                raise _Stale(str(err)) from None
            raise HttpError(f"connection failed: {type(err).__name__}: {err}") from None
        except asyncio.LimitOverrunError as err:
            writer.close()
            raise HttpError(f"answer head too long: {err}") from None
        status, length, close = _parse_head(head)
        try:
            body = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError) as err:
            writer.close()
            raise HttpError(f"connection failed: {type(err).__name__}: {err}") from None
        if close:
            writer.close()
        else:
            self._idle.append((reader, writer))
        return status, body

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"not an HTTP/1.x status line: {lines[0]!r}")
    length: int | None = None
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.lower() == "close"
        elif name == "transfer-encoding":
            raise HttpError(f"transfer-encoding {value} is not supported")
    if length is None:
        raise HttpError("the answer has no Content-Length")
    return int(parts[1]), length, close
