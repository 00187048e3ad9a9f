"""`lockstep schema manifest|server` prints the committed schema; anything else is bad usage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lockstep.editor_schemas import FILE_NAMES, SchemaName
from tests.cli.conftest import run_entry

ROOT = Path(__file__).resolve().parents[2]


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_")}
    env["LOCKSTEP_CONFIG"] = str(tmp_path / "missing.yaml")  # the command reads no configuration
    env["COLUMNS"] = "200"  # typer's error box wraps at the terminal's width
    return env


@pytest.mark.parametrize("name", list(SchemaName))
async def test_schema_prints_the_committed_file(name: SchemaName, tmp_path: Path) -> None:
    result = await run_entry("schema", name.value, env=_environment(tmp_path), cwd=tmp_path)

    assert result.code == 0, result.stderr
    assert result.stdout == (ROOT / "schemas" / FILE_NAMES[name]).read_text(encoding="utf-8")
    assert json.loads(result.stdout)["additionalProperties"] is False  # unknown top-level keys flagged


async def test_an_unknown_schema_name_is_bad_usage(tmp_path: Path) -> None:
    result = await run_entry("schema", "manifests", env=_environment(tmp_path), cwd=tmp_path)

    assert result.code == 2
    assert result.stdout == ""
    assert "'manifests' is not one of 'manifest', 'server'" in " ".join(result.stderr.split())
