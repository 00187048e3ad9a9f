"""Running a bundle's Rego tests with the embedded engine, as `opa test` would.

regopy has no test runner, so this one finds the tests itself: every rule whose name starts with
`test_` in a `*_test.rego` file, under that file's package. Each is evaluated alone over the whole
bundle (policy, tests and data); it passes when it evaluates to `true`, fails when it is false or
undefined, and errs when evaluation fails. A bundle that does not load or compile makes every
test (or, with none found, the bundle itself) an error naming the cause.

Known rego-cpp limits (OPA has neither): `with input as {…}` (replacing the whole input) breaks
compilation once a policy reads `data`, so write `with input.field as …` per field; and data is
folded into rules at compile time, so `with data.… as` mocks do not reliably reach the rules that
read them — test a data.json change with a bundle that ships it (as tests/policy does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lockstep.policy import rego
from lockstep.policy.bundle import PolicyBundleError, load_bundle

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)


class Outcome(StrEnum):
    passed = "passed"
    failed = "failed"
    error = "error"


@dataclass(frozen=True)
class TestResult:
    file: str  # relative path inside the bundle
    package: str
    name: str
    outcome: Outcome
    detail: str = ""

    __test__ = False  # not a pytest class

    @property
    def query(self) -> str:
        return f"data.{self.package}.{self.name}"


def discover(modules: dict[str, str]) -> list[tuple[str, str, str]]:
    """(file, package, rule) for every `test_*` rule of the `*_test.rego` modules, in file order."""
    found: list[tuple[str, str, str]] = []
    for file, source in sorted(modules.items()):
        package = _PACKAGE.search(source)
        if package is None:
            continue
        for name in dict.fromkeys(_TEST_RULE.findall(source)):  # incremental rules: report once
            found.append((file, package.group(1), name))
    return found


def run_tests(path: str | Path) -> list[TestResult]:
    """Run every Rego test of the bundle at `path`; never raises for a bad bundle."""
    try:
        bundle = load_bundle(path)
    except PolicyBundleError as e:
        return [TestResult(str(path), "", "(bundle)", Outcome.error, str(e))]
    tests = discover(bundle.test_modules)
    try:
        interpreter = rego.interpreter()
        rego.load(interpreter, bundle, bundle.modules)
    except rego.RegoFailure as e:
        cause = f"the bundle does not compile: {e}"
        if not tests:
            return [TestResult(str(path), "", "(bundle)", Outcome.error, cause)]
        return [TestResult(f, p, n, Outcome.error, cause) for f, p, n in tests]
    results: list[TestResult] = []
    for file, package, name in tests:
        try:
            value = rego.query(interpreter, f"data.{package}.{name}")
        except rego.RegoFailure as e:
            results.append(TestResult(file, package, name, Outcome.error, str(e)))
            continue
        if value is True:
            results.append(TestResult(file, package, name, Outcome.passed))
        else:
            detail = "undefined" if value is rego.UNDEFINED else f"evaluated to {value!r:.200}"
            results.append(TestResult(file, package, name, Outcome.failed, detail))
    return results
