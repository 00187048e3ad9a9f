"""CLI tests run `lockstep` as a user would: a real process reading LOCKSTEP_CONFIG."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from lockstep.settings import Settings

# The code under test, not whatever checkout the venv's editable install points at (a worktree).
_THIS_CHECKOUT = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    config: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)  # on top of this process's environment

    async def __call__(self, *args: str) -> Result:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lockstep",
            *args,
            cwd=self.cwd,
            env={
                **os.environ,
                **_THIS_CHECKOUT,
                "LOCKSTEP_CONFIG": str(self.config),
                "COLUMNS": "200",
                **self.env,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 180)
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())


FINALISED = "interpreter finalised"


async def run_entry(*args: str, env: dict[str, str], cwd: Path, prelude: str = "") -> Result:
    """`lockstep <args>` through the real entry point, after `prelude` (Python run first, e.g.
    to make a command fail unexpectedly). An atexit hook prints FINALISED on stderr: it runs
    only when the interpreter finalises, not when the process leaves with os._exit."""
    script = "\n".join(
        [
            "import atexit, sys",
            f"atexit.register(lambda: sys.stderr.write({FINALISED!r} + chr(10)))",
            prelude,
            "sys.argv[0] = 'lockstep'",
            "from workers.cli import run",
            "run()",
        ]
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, cwd=cwd, env={**env, **_THIS_CHECKOUT},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def write_config(settings: Settings, path: Path) -> Path:
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    return path


@pytest.fixture
def cli_for(tmp_path: Path) -> object:
    def make(settings: Settings) -> Cli:
        return Cli(config=write_config(settings, tmp_path / "lockstep-server.yaml"), cwd=tmp_path)

    return make
