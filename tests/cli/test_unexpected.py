"""The net under every command (issue item 8): an error nobody anticipated is one line naming its
cause and the file holding the trace, exit 1; `--debug` or LOCKSTEP_DEBUG=1 prints the trace.

The error is planted: the real entry point runs after `lockstep.cli.policy.run_tests` has been
replaced by a function that raises, so `lockstep policy test` fails as a bug would.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from lockstep.cli import unexpected
from tests.cli.conftest import FINALISED, run_entry

PLANT = """
import lockstep.cli.policy
def broken(path):
    try:
        raise KeyError("inner")
    except KeyError as err:
        raise RuntimeError("planted failure\\nwith a second line") from err
lockstep.cli.policy.run_tests = broken
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_")}
    return clean | {"XDG_STATE_HOME": str(tmp_path / "state"), "TMPDIR": str(tmp_path / "tmp")}


async def test_an_unexpected_error_is_one_line_and_a_private_trace_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = await run_entry("policy", "test", env=env, cwd=tmp_path, prelude=PLANT)
    assert result.code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip() and line != FINALISED]
    assert len(lines) == 1, result.stderr
    found = re.fullmatch(
        r"error: RuntimeError: planted failure \(full trace in (.+); run with --debug to print it\)", lines[0]
    )
    assert found, lines[0]
    trace = Path(found.group(1))
    assert trace.parent == tmp_path / "state" / "lockstep" / "traces"
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600
    assert stat.S_IMODE(trace.parent.stat().st_mode) == 0o700
    text = trace.read_text()
    assert "Traceback" in text and "KeyError: 'inner'" in text and "with a second line" in text
    assert "policy test" in text.splitlines()[1]  # the command line that failed


@pytest.mark.parametrize("how", ["--debug", "LOCKSTEP_DEBUG=1"])
async def test_debug_prints_the_trace_instead(how: str, env: dict[str, str], tmp_path: Path) -> None:
    args = ["--debug", "policy", "test"] if how == "--debug" else ["policy", "test"]
    run_env = env | ({"LOCKSTEP_DEBUG": "1"} if how != "--debug" else {})
    result = await run_entry(*args, env=run_env, cwd=tmp_path, prelude=PLANT)
    assert result.code == 1
    assert "Traceback" in result.stderr and "KeyError: 'inner'" in result.stderr
    assert result.stderr.replace(FINALISED, "").rstrip().endswith("error: RuntimeError: planted failure")
    assert not (tmp_path / "state").exists()  # nothing written when it is printed


async def test_an_unwritable_state_folder_falls_back_to_the_temp_folder(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "state").write_text("a file where the folder would be")
    (tmp_path / "tmp").mkdir()
    result = await run_entry("policy", "test", env=env, cwd=tmp_path, prelude=PLANT)
    assert result.code == 1
    found = re.search(r"full trace in (\S+);", result.stderr)
    assert found, result.stderr
    trace = Path(found.group(1))
    assert trace.parent == tmp_path / "tmp" and "planted failure" in trace.read_text()
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600


def test_only_the_newest_traces_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    folder = tmp_path / "lockstep" / "traces"
    folder.mkdir(parents=True)
    for day in range(1, 31):
        (folder / f"trace-202601{day:02d}T000000Z-1.txt").write_text("old")
    newest = unexpected.write_trace("Traceback (most recent call last): ...")
    kept = sorted(p.name for p in folder.iterdir())
    assert len(kept) == unexpected.KEEP_TRACES and newest.name in kept
    assert "trace-20260101T000000Z-1.txt" not in kept


def test_the_cause_is_the_error_that_says_something() -> None:
    try:
        try:
            raise FileNotFoundError("/srv/missing")
        except FileNotFoundError as inner:
            raise RuntimeError() from inner
    except RuntimeError as err:
        assert unexpected.cause(err) == "FileNotFoundError: /srv/missing"
    assert unexpected.cause(ValueError("first\nsecond")) == "ValueError: first"
    assert unexpected.cause(KeyboardInterrupt()) == "KeyboardInterrupt"


async def test_debug_also_shows_where_an_expected_error_came_from(
    env: dict[str, str], tmp_path: Path
) -> None:
    missing = env | {"LOCKSTEP_CONFIG": str(tmp_path / "absent.yaml")}
    quiet = await run_entry("list", env=missing, cwd=tmp_path)
    assert quiet.code == 1 and "Traceback" not in quiet.stderr
    assert "server configuration not found" in quiet.stderr
    loud = await run_entry("--debug", "list", env=missing, cwd=tmp_path)
    assert loud.code == 1 and "Traceback" in loud.stderr and "ConfigError" in loud.stderr
    assert "error: " in loud.stderr and "server configuration not found" in loud.stderr
