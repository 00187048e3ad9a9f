"""Connecting to Temporal with the data converter every Lockstep process must share."""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from lockstep.domain.errors import LockstepError
from lockstep.settings import TemporalSettings


class TemporalUnavailable(LockstepError):
    retryable = True


async def connect(settings: TemporalSettings) -> Client:
    try:
        return await Client.connect(
            settings.address, namespace=settings.namespace, data_converter=pydantic_data_converter
        )
    except (RPCError, RuntimeError, OSError) as err:
        raise TemporalUnavailable(
            f"cannot reach Temporal at {settings.address} (namespace {settings.namespace}): {err}; "
            "is `lockstep dev` or your Temporal cluster running?"
        ) from err


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
