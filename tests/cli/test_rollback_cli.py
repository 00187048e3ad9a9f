"""`lockstep rollback` against the real Temporal server and a worker: what it puts back, its id,
its trigger, its refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from tests.cli.conftest import Cli
from tests.support.apprepo import commit, git
from tests.workflows.helpers import current

pytestmark = [pytest.mark.temporal, pytest.mark.store]


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The worker also knows `old-site`, a target a server configuration may since have dropped."""
    raw = settings.model_dump()
    raw["targets"]["old-site"] = {"type": "local", "root": str(tmp_path / "old-target")}
    return Settings(**raw)


async def _deploy(cli: Cli) -> dict[str, object]:
    result = await cli("deploy", "shop", "--env", "staging", "--wait", "--output", "json")
    assert result.code == 0, result.stderr
    deployment: dict[str, object] = json.loads(result.stdout)
    assert deployment["status"] == "succeeded"
    return deployment


async def test_rollback_puts_back_what_the_previous_deployment_left_live(
    worker: None,
    settings: Settings,
    cli_for: Callable[[Settings], Cli],
    app_repo: Path,
    target_root: Path,
    store: Store,
) -> None:
    cli = cli_for(settings)
    first = await _deploy(cli)
    a = str(first["commit"])
    b = commit(app_repo, {"web/index.html": "<h1>{{ greeting }}, version 2</h1>\n"}, "web v2")
    second = await _deploy(cli)
    assert second["commit"] == b and current(target_root, "web") == b

    result = await cli("rollback", "shop", "--env", "staging", "--wait")
    assert result.code == 0, result.stderr
    rollback_id = f"shop.staging.{a[:10]}.2"  # a new attempt of A's commit, not A's deployment
    assert f"rollback queued to {first['id']} (commit {a[:12]})" in result.stderr
    assert result.stdout.splitlines()[0] == rollback_id
    assert "trigger rollback" in result.stdout and "succeeded" in result.stdout
    assert current(target_root, "web") == a

    shown = json.loads((await cli("status", rollback_id, "--output", "json")).stdout)
    assert (shown["trigger"], shown["commit"], shown["status"]) == ("rollback", a, "succeeded")
    assert [c["name"] for c in shown["plan"]["components"]] == ["web"]  # only web differed from B
    latest = json.loads((await cli("status", "--output", "json")).stdout)
    assert [(d["id"], d["trigger"]) for d in latest] == [(rollback_id, "rollback")]
    with store.read_session() as session:
        asked = [
            e for e in events_for(session=session, deployment_id=rollback_id) if e.kind == "manual_action"
        ]
    assert [(e.actor_source, json.loads(e.detail_json)["action"]) for e in asked] == [
        ("cli-local", "rollback")
    ]

    # What the rollback left is live: going back to it again starts nothing.
    again = await cli("rollback", "shop", "--env", "staging", "--to", rollback_id, "--output", "json")
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["id"] == rollback_id
    text = await cli("rollback", "shop", "--env", "staging", "--to", str(first["id"]))
    assert text.code == 0 and "nothing to roll back" in text.stderr and text.stdout.strip() == rollback_id

    # The default now is the deployment before the rollback: B, back again as its own new attempt.
    forward = await cli("rollback", "shop", "--env", "staging", "--wait", "--output", "json")
    assert forward.code == 0, forward.stderr
    assert json.loads(forward.stdout)["id"] == f"shop.staging.{b[:10]}.2"
    assert current(target_root, "web") == b


async def test_rollback_refusals_name_their_cause(
    worker: None,
    settings: Settings,
    cli_for: Callable[[Settings], Cli],
    app_repo: Path,
) -> None:
    cli = cli_for(settings)
    nothing_live = await cli("rollback", "shop", "--env", "staging")
    assert nothing_live.code == 1 and "no successful deployment" in nothing_live.stderr
    first = await _deploy(cli)
    alone = await cli("rollback", "shop", "--env", "staging")
    assert alone.code == 1
    assert f"no successful deployment before the live one ({first['id']})" in alone.stderr

    commit(app_repo, {"web/health.sh": "exit 1\n"}, "break web")
    failed = await cli("deploy", "shop", "--env", "staging", "--wait", "--output", "json")
    assert failed.code == 1
    failed_id = json.loads(failed.stdout)["id"]
    to_failed = await cli("rollback", "shop", "--env", "staging", "--to", failed_id)
    assert to_failed.code == 1 and f"{failed_id} is rolled_back, not succeeded" in to_failed.stderr

    unknown = await cli("rollback", "shop", "--env", "staging", "--to", "shop.staging.0000000000")
    assert unknown.code == 1 and "no deployment 'shop.staging.0000000000'" in unknown.stderr
    no_env = await cli("rollback", "shop", "--env", "qa")
    assert no_env.code == 1 and "no environment 'qa'" in no_env.stderr
    usage = await cli("rollback", "shop")
    assert usage.code == 2


async def test_a_revision_that_can_no_longer_be_rendered_is_refused_before_anything_starts(
    worker: None,
    settings: Settings,
    cli_for: Callable[[Settings], Cli],
    app_repo: Path,
    tmp_path: Path,
) -> None:
    cli = cli_for(settings)
    manifest = (app_repo / "lockstep.yaml").read_text()
    commit(app_repo, {"lockstep.yaml": manifest.replace("site: local-test", "site: old-site")}, "on old-site")
    old = await _deploy(cli)
    commit(app_repo, {"lockstep.yaml": manifest}, "moved to local-test")
    await _deploy(cli)

    # The server configuration dropped old-site since: that revision cannot be rendered.
    raw = settings.model_dump()
    del raw["targets"]["old-site"]
    dropped = Settings(**raw)
    result = await cli_for(dropped)("rollback", "shop", "--env", "staging")
    assert result.code == 1
    assert f"{old['id']} cannot be rolled back to" in result.stderr and "old-site" in result.stderr
    listed = json.loads((await cli("list", "--output", "json")).stdout)
    assert all(d["trigger"] != "rollback" for d in listed)
    assert git(app_repo, "log", "--format=%s", "-1") == "moved to local-test"
