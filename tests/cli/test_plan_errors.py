"""`lockstep plan` refuses a broken manifest with exit code 1 and a message naming the problem."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from lockstep.settings import Settings
from tests.cli.conftest import Cli
from tests.support.apprepo import commit, git, three_tier_files

BROKEN = {
    "cycle": (("depends_on: [db]", "depends_on: [web]"), ["cycle", "api -> web -> api"]),
    "unknown dependency": (("depends_on: [db]", "depends_on: [dbx]"), ["dbx", "depends_on"]),
    "unbound target": (
        ("    target: site\n    depends_on: [api]", "    target: cdn\n    depends_on: [api]"),
        ["cdn", "staging"],
    ),
    "unresolved placeholder": (("hello staging", "{{ nothing }}"), []),
    # Planned fine once, then wedged the lane: the workflow overflowed computing its deadline.
    "approval timeout past its bound": (
        ("    branch: main\n", "    branch: main\n    approvals: {timeout: 3000000d}\n"),
        ["environments[0].approvals.timeout: 3000000d is longer than the maximum 14d"],
    ),
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        state_dir=str(tmp_path / "state"),
        targets={"local-test": {"type": "local", "root": str(tmp_path / "target")}},
    )


async def test_plan_shows_waves_and_reasons(
    settings: Settings, cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    repo = tmp_path / "shop"
    commit(repo, three_tier_files(tmp_path), "first")
    cli = cli_for(settings)
    text = await cli("plan", str(repo), "--env", "staging")
    assert text.code == 0, text.stderr
    assert "first deployment" in text.stdout and "db" in text.stdout
    result = await cli("plan", str(repo), "--output", "json")
    assert result.code == 0, result.stderr
    import json

    [plan] = json.loads(result.stdout)
    assert plan["application"] == "shop" and plan["environment"] == "staging"
    assert plan["plan"]["waves"] == [["db"], ["api"], ["web"]]
    assert [c["action"] for c in plan["plan"]["components"]] == ["create", "create", "create"]


@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_plan_refuses_broken_manifest(
    case: str, settings: Settings, cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    (old, new), expected = BROKEN[case]
    files = three_tier_files(tmp_path)
    if case == "unresolved placeholder":
        files["web/index.html"] = "<h1>{{ nothing }}</h1>\n"
    else:
        manifest = files["lockstep.yaml"]
        assert manifest is not None and old in manifest
        files["lockstep.yaml"] = manifest.replace(old, new, 1)
    repo = tmp_path / "shop"
    commit(repo, files, case)
    result = await cli_for(settings)("plan", str(repo))
    assert result.code == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "error:" in message
    if case == "unresolved placeholder":
        assert "web/index.html" in message and "nothing" in message
    else:
        assert "lockstep.yaml" in message
        for fragment in expected:
            assert fragment in message, message


async def test_plan_refuses_a_file_name_that_is_not_utf8(
    settings: Settings, cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    repo = tmp_path / "shop"
    commit(repo, three_tier_files(tmp_path), "first")
    (repo / "web" / os.fsdecode(b"caf\xe9.html")).write_bytes(b"<p>hi</p>\n")  # not UTF-8
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a Latin-1 file name")
    result = await cli_for(settings)("plan", str(repo))
    assert result.code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "full trace" not in result.stderr, result.stderr
    message = " ".join(result.stderr.split())
    assert (
        "error: lockstep.yaml: components[2].host.files[0].src: component 'web': "
        "the file name 'web/caf\\xe9.html' is not UTF-8"
    ) in message, message


async def test_plan_unknown_repository(
    settings: Settings, cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    result = await cli_for(settings)("plan", str(tmp_path / "nowhere"))
    assert result.code == 1
    assert "nowhere" in result.stderr


async def test_bad_usage_exits_2(settings: Settings, cli_for: Callable[[Settings], Cli]) -> None:
    result = await cli_for(settings)("deploy", "shop")  # --env missing
    assert result.code == 2
    assert "--env" in result.stderr


async def test_plan_refuses_a_dest_inside_another_before_anything_is_deployed(
    settings: Settings, cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    # Deploying `db` would prune `api`'s releases from under it: refused as a manifest error.
    files = three_tier_files(tmp_path)
    manifest = files["lockstep.yaml"]
    assert manifest is not None and "dest: /srv/api}" in manifest
    files["lockstep.yaml"] = manifest.replace("dest: /srv/api}", "dest: /srv/db/releases/api/}")
    repo = tmp_path / "shop"
    commit(repo, files, "api inside db")
    result = await cli_for(settings)("plan", str(repo), "--env", "staging")
    assert result.code == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert (
        "error: lockstep.yaml: components[1].host.files[0].dest: /srv/db/releases/api "
        "(component 'api', environment 'staging', target 'local-test') lies inside /srv/db, the dest "
        "of components[0].host.files[0].dest (component 'db', environment 'staging'); Lockstep prunes "
        "and replaces what is under a dest, so two dests on one target may not nest"
    ) in message, message
    assert not (tmp_path / "target").exists() or not any((tmp_path / "target").iterdir())
