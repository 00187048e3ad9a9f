"""Who `lockstep deploy` records: with LOCKSTEP_TOKEN, the token's user, through the real API
(and `--wait` follows it there); without, the operating-system user, as `cli-local`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pwd
from collections.abc import Callable

import pytest

from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from tests.cli.conftest import Cli
from tests.support.api_server import free_port, serving

pytestmark = [pytest.mark.temporal, pytest.mark.store]

TOKEN = "alice-deploys-by-hand"


@pytest.fixture
def alice_settings(settings: Settings) -> Settings:
    raw = settings.model_dump()
    raw["users"] = {"alice": {"groups": ["release-managers"], "email": "alice@example.com",
                              "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()}}  # fmt: skip
    raw["api"] = {"listen": f"127.0.0.1:{free_port()}"}
    return Settings(**raw)


def _actors(store: Store, deployment_id: str) -> list[tuple[str | None, str]]:
    with store.session() as session:
        return [(e.actor, e.actor_source) for e in events_for(session=session, deployment_id=deployment_id)
                if e.kind in ("manual_action", "started")]  # fmt: skip


async def test_deploy_records_the_token_user_or_the_local_user(
    worker: None,
    settings: Settings,
    alice_settings: Settings,
    cli_for: Callable[[Settings], Cli],
    store: Store,
) -> None:
    cli = cli_for(alice_settings)
    local = await cli("deploy", "shop", "--env", "staging", "--wait", "--output", "json")
    assert local.code == 0, local.stderr
    deployment = json.loads(local.stdout)
    me = pwd.getpwuid(os.getuid()).pw_name
    assert deployment["actor"] == me
    assert _actors(store, deployment["id"]) == [(me, "cli-local"), (me, "cli-local")]

    with serving(alice_settings) as url:
        as_alice = dataclasses.replace(cli, env={"LOCKSTEP_TOKEN": TOKEN, "LOCKSTEP_API_URL": url})
        again = await as_alice("deploy", "shop", "--env", "staging", "--ref", deployment["commit"], "--wait",
                               "--output", "json")  # fmt: skip
        assert again.code == 0, again.stderr
        shown = json.loads(again.stdout)
        assert shown["id"] == deployment["id"] and shown["status"] == "succeeded", "the same, existing one"
        assert ("alice", "api-token") in _actors(store, deployment["id"])

        refused = await dataclasses.replace(
            as_alice, env={"LOCKSTEP_TOKEN": "wrong", "LOCKSTEP_API_URL": url}
        )("deploy", "shop", "--env", "staging")
        assert refused.code == 1 and "deploy refused (401)" in refused.stderr, refused.stderr
