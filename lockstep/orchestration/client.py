"""Connecting to Temporal with the data converter every Lockstep process must share."""

from __future__ import annotations

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
