"""`lockstep setup` registers the search attributes on an existing Temporal server, idempotently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from lockstep.devstack.temporal_server import temporal_binary
from lockstep.domain.temporal_names import SEARCH_ATTRIBUTES
from lockstep.settings import Settings
from tests.cli.conftest import Cli
from tests.support.temporal import address

pytestmark = pytest.mark.temporal


async def test_setup_registers_search_attributes(cli_for: Callable[[Settings], Cli], tmp_path: Path) -> None:
    bare = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_binary())
    try:
        settings = Settings(temporal={"address": address(bare)}, database_url=f"sqlite:///{tmp_path / 'db'}")
        cli = cli_for(settings)
        first = await cli("setup")
        assert first.code == 0, first.stderr
        assert "registered search attributes" in first.stdout
        listed = await bare.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        assert set(SEARCH_ATTRIBUTES) <= set(listed.custom_attributes)
        assert "drift sweep schedule: lockstep-drift-sweep" in first.stdout
        drift = (await bare.client.get_schedule_handle("lockstep-drift-sweep").describe()).schedule
        assert [i.every for i in drift.spec.intervals] == [timedelta(minutes=5)] and not drift.state.paused
        again = await cli("setup")
        assert again.code == 0 and "already registered" in again.stdout
    finally:
        await bare.shutdown()


async def test_setup_names_an_unreachable_server(cli_for: Callable[[Settings], Cli], tmp_path: Path) -> None:
    settings = Settings(temporal={"address": "127.0.0.1:1"}, database_url=f"sqlite:///{tmp_path / 'db'}")
    result = await cli_for(settings)("setup")
    assert result.code == 1
    assert "127.0.0.1:1" in result.stderr
