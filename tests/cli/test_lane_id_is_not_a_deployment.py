"""A lane's id given where a deployment's is expected says so in one line, before any server is
asked (it never reaches Temporal's "no update handler" or a validation trace)."""

from __future__ import annotations

from typing import Any, cast

import pytest
import typer
from temporalio.client import Client

from lockstep.cli.deployments import _query
from lockstep.orchestration.approvals import DeploymentNotFound, send_decision
from lockstep.settings import Settings


async def test_status_of_a_lane_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.model_construct()  # nothing is connected to: the id alone decides
    with pytest.raises(typer.Exit) as ended:
        await _query(settings, "shop.staging.lane")
    assert ended.value.exit_code == 1
    assert "is an environment's lane, not a deployment" in capsys.readouterr().err


async def test_approving_a_lane_is_not_found() -> None:
    nothing = cast(Client, cast(Any, None))  # never used: refused before any call
    with pytest.raises(DeploymentNotFound, match="that is an environment's lane"):
        await send_decision(nothing, "shop.production.lane", decision="approve", approver="alice")
