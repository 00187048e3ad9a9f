"""Every `lockstep` process imports every command module (typer needs their options), so those
modules import the heavy libraries only inside the commands that use them: `lockstep --help`
or `lockstep approve` must not load Temporal, the database, Kubernetes, SSH or the web stack
(together ~0.7 s of CPU per process; the CLI tests start hundreds of processes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import run_entry
from tests.policy.conftest import DEFAULT_BUNDLE

HEAVY = ("temporalio", "sqlalchemy", "sqlmodel", "kubernetes", "paramiko", "fastapi", "uvicorn", "git")

# Printed at exit (the entry point finalises the interpreter when no Temporal client was made).
REPORT = f"""
def _report():
    loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
    sys.stderr.write("heavy modules: " + ",".join(loaded) + chr(10))
atexit.register(_report)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["deploy", "--help"],
        ["policy", "test", "--path", str(DEFAULT_BUNDLE)],
        ["schema", "server"],
        ["approve", "shop-production-0123456789"],  # no token: refused before any request
    ],
    ids=" ".join,
)
async def test_commands_that_need_no_heavy_library_do_not_import_one(args: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    result = await run_entry(*args, env=env, cwd=tmp_path, prelude=REPORT)
    assert "Traceback" not in result.stderr, result.stderr
    assert "heavy modules: \n" in result.stderr, result.stderr
