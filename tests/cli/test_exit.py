"""How a `lockstep` process ends (issue item 0): a command that created a Temporal client leaves
without finalising the interpreter (the SDK's runtime threads can abort finalisation:
sdk-python#300), with its own exit code and all its output; any other command ends as usual.

Whether the race itself fires is a matter of luck and load, so the proof that it no longer does
is `bench/cli_exit.py`; these tests check the mechanism, deterministically: an atexit hook that
only a finalising interpreter runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lockstep.settings import Settings
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from tests.cli.conftest import FINALISED, run_entry, write_config
from tests.cli.test_dev import _free_port


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A configuration whose Temporal is a closed port, over a database that exists."""
    settings = Settings(
        temporal={"address": f"127.0.0.1:{_free_port()}"},
        database_url=f"sqlite:///{tmp_path / 'lockstep.db'}",
        state_dir=str(tmp_path / "state"),
    )
    Store.from_url(settings.database_url).dispose()
    config = write_config(settings, tmp_path / "lockstep-server.yaml")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_")}
    return clean | {"LOCKSTEP_CONFIG": str(config), "XDG_STATE_HOME": str(tmp_path / "xdg")}


async def test_a_command_that_opened_a_client_leaves_unfinalised_with_all_its_output(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Awaiting approval: `status` asks the workflow for its quorum (a client is created; Temporal
    # is unreachable, so it shows the store's view) and prints JSON through a buffered pipe.
    store = Store.from_url(f"sqlite:///{tmp_path / 'lockstep.db'}")
    with store.session() as session:
        upsert_deployment(
            session=session, id="shop-production-0123456789", application="shop",
            environment="production", commit="0123456789" * 4, repository="/srv/git/shop",
            trigger="promotion", actor=None, status="awaiting_approval",
        )  # fmt: skip
    store.dispose()
    result = await run_entry("status", "shop-production-0123456789", "-o", "json", env=env, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "awaiting_approval"
    assert FINALISED not in result.stderr


async def test_a_failed_connect_keeps_its_exit_code_and_its_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    for verb in ("setup", "worker"):
        result = await run_entry(verb, env=env, cwd=tmp_path)
        assert result.code == 1, (verb, result.stderr)
        assert FINALISED not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "cannot reach Temporal at 127.0.0.1:" in errors[0], result.stderr
        assert "Traceback" not in result.stderr


async def test_a_command_without_a_client_ends_as_usual(env: dict[str, str], tmp_path: Path) -> None:
    result = await run_entry("list", "-o", "json", env=env, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert FINALISED in result.stderr  # os._exit is kept for the processes that need it
    bad_usage = await run_entry("list", "--status", "bogus", env=env, cwd=tmp_path)
    assert bad_usage.code == 2 and FINALISED in bad_usage.stderr
