"""`lockstep plan` shows each environment's policy decision without deploying: allowed with the
quorum it would need, denied with the reasons (exit 1), and denied when the engine fails."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from lockstep.settings import Settings
from tests.cli.conftest import Cli
from tests.support.apprepo import commit, three_tier_files
from tests.support.policies import open_window_bundle

PRODUCTION = (
    "  - name: production\n    branch: main\n    targets: {site: local-prod}\n"
    '    values: {greeting: "hello production"}\n'
    "    approvals: {required: 1, groups: [release-managers]}\ncomponents:"
)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    files = three_tier_files(tmp_path)
    files["lockstep.yaml"] = str(files["lockstep.yaml"]).replace("components:", PRODUCTION, 1)
    commit(repo, files, "WIP: add production")
    return repo


TOKEN = "alice-plans-production"


def _settings(tmp_path: Path, policy_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        state_dir=str(tmp_path / "state"),
        targets={
            "local-test": {"type": "local", "root": str(tmp_path / "target")},
            "local-prod": {"type": "local", "root": str(tmp_path / "prod")},
        },
        policy={"engine": "embedded", "path": str(policy_path)},
        users={
            "alice": {
                "groups": ["release-managers"],
                "email": "alice@example.com",
                "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
            }
        },
    )


async def test_plan_shows_the_decision_and_the_quorum(
    cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    repo = _repo(tmp_path)
    anonymous = cli_for(_settings(tmp_path, open_window_bundle(tmp_path / "policies")))
    refused = await anonymous("plan", str(repo), "--env", "production")
    assert refused.code == 1, "production takes manual deployments from release managers only"
    assert "an anonymous actor (trigger manual) is neither" in refused.stdout, refused.stdout
    assert "set LOCKSTEP_TOKEN to ask the policy as yourself" in refused.stdout

    cli = dataclasses.replace(anonymous, env={"LOCKSTEP_TOKEN": TOKEN})  # as a release manager
    result = await cli("plan", str(repo), "--output", "json")
    assert result.code == 0, result.stderr
    by_env = {p["environment"]: p["policy"] for p in json.loads(result.stdout)}
    assert by_env["staging"]["allowed"] and by_env["staging"]["approvals_required"] == 0
    production = by_env["production"]
    assert production["allowed"] and production["approvals_required"] == 2, (
        "policy's 2 beats the manifest's 1"
    )
    assert production["warn"] == [
        "commit " + production["warn"][0].split()[1] + ' is marked work in progress: "WIP: add production"'
    ]
    assert production["engine"] == "embedded" and len(production["bundle_revision"]) == 64
    assert production["trigger"] == "manual" and production["actor"] == "alice"
    text = await cli("plan", str(repo), "--env", "production")
    assert text.code == 0 and "2 approval(s) required" in text.stdout and "warn:" in text.stdout
    assert "as a manual deployment by alice" in text.stdout


async def test_a_broken_bundle_denies_the_plan(cli_for: Callable[[Settings], Cli], tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    broken = tmp_path / "broken"
    (broken / "lockstep").mkdir(parents=True)
    (broken / "lockstep" / "deploy.rego").write_text("package lockstep.deploy\n\ndeny contains if {\n")
    cli = cli_for(_settings(tmp_path, broken))
    result = await cli("plan", str(repo), "--env", "staging")
    assert result.code == 1
    assert "deny:" in result.stdout and "deploy.rego" in result.stdout, result.stdout
