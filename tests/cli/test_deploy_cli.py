"""`lockstep deploy|status|list|history` against the real Temporal server and a worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lockstep.settings import Settings
from tests.cli.conftest import Cli
from tests.support.apprepo import commit
from tests.workflows.helpers import current

pytestmark = [pytest.mark.temporal, pytest.mark.store]


async def test_deploy_wait_status_list_history(
    worker: None,
    settings: Settings,
    cli_for: Callable[[Settings], Cli],
    app_repo: Path,
    target_root: Path,
) -> None:
    cli = cli_for(settings)
    result = await cli("deploy", "shop", "--env", "staging", "--wait", "--output", "json")
    assert result.code == 0, result.stderr
    deployment = json.loads(result.stdout)
    for key in ("id", "application", "environment", "commit", "status", "plan", "steps", "approvals"):
        assert key in deployment
    assert deployment["status"] == "succeeded"
    assert deployment["plan"]["waves"] == [["db"], ["api"], ["web"]]
    assert {"name", "action", "reason"} <= set(deployment["plan"]["components"][0])
    assert {"component", "host", "action", "status"} <= set(deployment["steps"][0])
    assert current(target_root, "web") == deployment["commit"]

    status = await cli("status", deployment["id"], "--output", "json")
    assert status.code == 0 and json.loads(status.stdout)["id"] == deployment["id"]
    text = await cli("status", deployment["id"])
    assert "succeeded" in text.stdout and "web" in text.stdout

    listed = await cli(
        "list", "--app", "shop", "--env", "staging", "--status", "succeeded", "--output", "json"
    )
    assert [d["id"] for d in json.loads(listed.stdout)] == [deployment["id"]]
    assert json.loads((await cli("list", "--status", "failed", "--output", "json")).stdout) == []
    assert (await cli("list", "--status", "bogus")).code == 2

    history = await cli("history", "shop", "--env", "staging", "--output", "json")
    assert {r["component"] for r in json.loads(history.stdout)["live"]} == {"db", "api", "web"}

    commit(app_repo, {"web/health.sh": "exit 1\n"}, "break web")
    failed = await cli("deploy", "shop", "--env", "staging", "--wait")
    assert failed.code == 1
    assert "rolled_back" in failed.stdout
    assert current(target_root, "web") == deployment["commit"]

    unknown = await cli("status", "no-such-deployment")
    assert unknown.code == 1 and "no-such-deployment" in unknown.stderr
    no_app = await cli("deploy", "nothing", "--env", "staging")
    assert no_app.code == 1 and "nothing" in no_app.stderr


async def test_deploy_json_without_wait_is_a_whole_object(
    worker: None, settings: Settings, cli_for: Callable[[Settings], Cli], app_repo: Path
) -> None:
    result = await cli_for(settings)("deploy", "shop", "--env", "staging", "--output", "json")
    assert result.code == 0, result.stderr
    deployment = json.loads(result.stdout)
    for key in ("id", "application", "environment", "commit", "status", "plan", "steps", "approvals"):
        assert key in deployment, key
    assert deployment["application"] == "shop" and len(deployment["commit"]) == 40
    assert (await cli_for(settings)("deploy", "shop", "--env", "staging", "--wait")).code == 0


async def test_an_unreachable_database_is_one_line_naming_it(
    settings: Settings, cli_for: Callable[[Settings], Cli]
) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql+psycopg://lockstep:s3cret@127.0.0.1:1/none"}
    )
    result = await cli_for(broken)("list")
    assert result.code == 1
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    assert "127.0.0.1:1/none" in result.stderr and len(result.stderr.strip().splitlines()) == 1
