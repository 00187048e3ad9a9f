"""`lockstep policy test` and `lockstep policy eval` through typer's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from tests.policy.conftest import DEFAULT_BUNDLE, SATURDAY, make_input
from workers.cli import app

runner = CliRunner()


def test_policy_test_passes_on_the_default_bundle() -> None:
    result = runner.invoke(app, ["policy", "test", "--path", str(DEFAULT_BUNDLE)])
    assert result.exit_code == 0, result.output
    assert "PASSED data.lockstep.deploy_test.test_untagged_image_denied_in_production" in result.output
    assert "failed" not in result.output.lower().replace("0 failed", "")


def test_policy_test_json(bundle_copy: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["policy", "test", "--path", str(DEFAULT_BUNDLE), "--output", "json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["passed"] == report["total"] > 0
    assert {t["outcome"] for t in report["tests"]} == {"passed"}


def test_policy_test_fails_with_a_failing_test(bundle_copy: Callable[..., Path]) -> None:
    root = bundle_copy()
    (root / "lockstep/zz_test.rego").write_text(
        "package lockstep.zz_test\nimport rego.v1\ntest_wrong if { 1 == 2 }\n"
    )
    result = runner.invoke(app, ["policy", "test", "--path", str(root)])
    assert result.exit_code == 1
    assert "FAILED data.lockstep.zz_test.test_wrong" in result.output


def test_policy_test_missing_folder_is_bad_usage(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "test", "--path", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "is not a directory" in result.output


def test_policy_eval_allowed_and_denied(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed.json"
    allowed.write_text(json.dumps(make_input()))
    result = runner.invoke(app, ["policy", "eval", "--input", str(allowed), "--path", str(DEFAULT_BUNDLE)])
    assert result.exit_code == 0, result.output
    assert "allowed" in result.output and "approvals required: 2" in result.output

    denied = tmp_path / "denied.json"
    denied.write_text(json.dumps(make_input(images={"catalogue-db": ["mongo"]}, now=SATURDAY)))
    result = runner.invoke(
        app, ["policy", "eval", "--input", str(denied), "--path", str(DEFAULT_BUNDLE), "-o", "json"]
    )
    assert result.exit_code == 1
    decision = json.loads(result.stdout)
    assert decision["denied"] is True and len(decision["deny"]) == 2
    assert any('image "mongo" has no tag' in r for r in decision["deny"])


def test_policy_eval_drift(tmp_path: Path) -> None:
    report = tmp_path / "drift.json"
    report.write_text(
        json.dumps(
            {
                "application": "shop",
                "environment": "staging",
                "item": {"component": "web", "kind": "modified", "path": "/srv/web/app.conf"},
            }
        )
    )
    result = runner.invoke(
        app,
        [
            "policy",
            "eval",
            "-i",
            str(report),
            "--query",
            "drift",
            "--path",
            str(DEFAULT_BUNDLE),
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["remediate"] is False


def test_policy_eval_bad_usage(tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["policy", "eval", "-i", str(tmp_path / "none.json"), "--path", str(DEFAULT_BUNDLE)]
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    invalid = runner.invoke(app, ["policy", "eval", "-i", str(bad), "--path", str(DEFAULT_BUNDLE)])
    assert invalid.exit_code == 2 and "is not valid JSON" in invalid.output
    bad.write_text("[1]")
    not_object = runner.invoke(app, ["policy", "eval", "-i", str(bad), "--path", str(DEFAULT_BUNDLE)])
    assert not_object.exit_code == 2 and "must hold a JSON object" in not_object.output
