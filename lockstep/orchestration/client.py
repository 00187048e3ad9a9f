"""Connecting to Temporal with the data converter every Lockstep process must share.

Owns the bounds on reaching Temporal (a TCP connect timeout, and the RPC timeout callers pass
to each call) and remembers whether this process ever created a client: the SDK's Rust runtime
keeps threads alive after the event loop ends, and one of them can race the interpreter's
finalisation and abort it (sdk-python#300). The CLI's entry point asks `client_opened()` and
then leaves without finalising. How a process exits is not decided here.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from lockstep.domain.errors import LockstepError
from lockstep.settings import TemporalSettings

# A refused connection fails at once; this bounds one that hangs (a filtered port, an address
# with no route). A server that accepts but never answers is bounded by the SDK itself (30 s).
CONNECT_TIMEOUT = timedelta(seconds=5)
# For one call from a short-lived command (a query, a describe). The SDK enforces it on the
# server side too, so a call is never left running after its caller stopped waiting, which
# `asyncio.wait_for` around a call would do.
RPC_TIMEOUT = timedelta(seconds=10)

_opened = False


class TemporalUnavailable(LockstepError):
    retryable = True


class TemporalAddressInvalid(TemporalUnavailable):
    """A configuration error, met where every caller already handles an unreachable Temporal."""

    retryable = False


def client_opened() -> bool:
    """Whether this process has started the SDK's runtime by connecting (even unsuccessfully)."""
    return _opened


async def connect(
    settings: TemporalSettings,
    *,
    connect_timeout: timedelta = CONNECT_TIMEOUT,
    runtime: Runtime | None = None,
) -> Client:
    """A client with Lockstep's data converter; `runtime` the SDK's (the worker's serves metrics:
    `lockstep.orchestration.telemetry`), else the process's default one."""
    global _opened
    _opened = True  # before the call: a failed connect has started the runtime's threads too
    try:
        return await Client.connect(
            settings.address,
            namespace=settings.namespace,
            data_converter=pydantic_data_converter,
            connect_timeout=connect_timeout,
            runtime=runtime,
        )
    except ValueError as err:  # the SDK parses the address before it connects
        raise TemporalAddressInvalid(
            f"Temporal address {settings.address!r} is not valid: {err} "
            "(temporal.address, LOCKSTEP_TEMPORAL__ADDRESS; expected host:port)"
        ) from err
    except (RPCError, RuntimeError, OSError) as err:
        raise TemporalUnavailable(
            f"cannot reach Temporal at {settings.address} (namespace {settings.namespace}): "
            f"{_reason(err)}; is `lockstep dev` or your Temporal cluster running?"
        ) from err


def _reason(err: Exception) -> str:
    """The SDK's connect errors quote the Rust error whole (`tonic::transport::Error(…
    message: "Connection refused" …)`): its message is the part a person needs."""
    text = str(err)
    found = re.search(r'(?:message|error): "([^"]+)"', text)
    return found.group(1) if found else text


class LazyClient:
    """One Temporal client per process, connected on first use (the API starts without Temporal)."""

    def __init__(self, settings: TemporalSettings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._connecting: asyncio.Lock | None = None

    async def get(self) -> Client:
        if self._connecting is None:
            self._connecting = asyncio.Lock()  # created in the loop that uses it
        async with self._connecting:
            if self._client is None:
                self._client = await connect(self._settings)
            return self._client
