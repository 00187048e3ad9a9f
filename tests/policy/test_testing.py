"""The Rego test runner: discovery, outcomes, and the default bundle's own tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lockstep.policy.testing import Outcome, discover, run_tests
from tests.policy.conftest import DEFAULT_BUNDLE


def test_default_bundle_tests_pass() -> None:
    results = run_tests(DEFAULT_BUNDLE)
    assert len(results) >= 15
    assert [r for r in results if r.outcome is not Outcome.passed] == []
    assert {"lockstep.deploy_test", "lockstep.drift_test", "lockstep.kubernetes_test"} == {
        r.package for r in results
    }


def test_discovery_reports_incremental_tests_once() -> None:
    source = (
        "package a.b_test\nimport rego.v1\ntest_x if { true }\ntest_x if { false }\n  test_not_top if {}\n"
    )
    assert discover({"a/b_test.rego": source}) == [("a/b_test.rego", "a.b_test", "test_x")]


def test_outcomes(bundle_copy: Callable[..., Path]) -> None:
    root = bundle_copy()
    (root / "lockstep/extra_test.rego").write_text(
        "package lockstep.extra_test\nimport rego.v1\nimport data.lockstep.deploy\n"
        'test_fails if { deploy.approvals_required == 5 with input.environment as "production" }\n'
        "test_false if { false }\n"
        'test_passes if { deploy.approvals_required == 2 with input.environment as "production" }\n'
    )
    by_name = {r.name: r for r in run_tests(root)}
    assert by_name["test_fails"].outcome is Outcome.failed and by_name["test_fails"].detail == "undefined"
    assert by_name["test_false"].outcome is Outcome.failed
    assert by_name["test_passes"].outcome is Outcome.passed
    assert by_name["test_passes"].query == "data.lockstep.extra_test.test_passes"


def test_broken_bundle_makes_every_test_an_error(bundle_copy: Callable[..., Path]) -> None:
    root = bundle_copy()
    (root / "lockstep/broken.rego").write_text("package lockstep.broken\n\nx := {\n")
    results = run_tests(root)
    assert results and all(r.outcome is Outcome.error for r in results)
    assert "broken.rego:3:" in results[0].detail


def test_unloadable_bundle_is_one_error(tmp_path: Path) -> None:
    [result] = run_tests(tmp_path / "nope")
    assert result.outcome is Outcome.error and "is not a directory" in result.detail
