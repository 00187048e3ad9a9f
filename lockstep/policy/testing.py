"""Running a bundle's Rego tests with the embedded engine, as `opa test` would.

regopy has no test runner, so this one finds the tests itself: every rule whose name starts with
`test_` in a `*_test.rego` file, under that file's package. Each is evaluated alone over the whole
bundle (policy, tests and data); it passes when it evaluates to `true`, fails when it is false or
undefined, and errs when evaluation fails. A bundle that does not load or compile makes every
test (or, with none found, the bundle itself) an error naming the cause.

The tests are compiled together, as the engine compiles its rules (one compilation, where an
ad-hoc query per test compiles the bundle once per test); a test that does not pass there, or
every test if that build fails, is evaluated ad hoc, and that outcome is the one reported.

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
from typing import Any

from regopy import Bundle, Interpreter

from lockstep.policy import rego
from lockstep.policy.bundle import PolicyBundle, PolicyBundleError, load_bundle

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
    compiled = _compile_tests(bundle, tests)
    results: list[TestResult] = []
    for file, package, name in tests:
        result = None
        if compiled is not None:
            result = _compiled_outcome(compiled, file, package, name)
        if result is None or result.outcome is not Outcome.passed:
            result = _adhoc_outcome(interpreter, file, package, name)  # the last word, as before
        results.append(result)
    return results


@dataclass(frozen=True)
class _Compiled:
    builder: Interpreter  # kept alive with the bundle it built
    bundle: Bundle
    runner: Interpreter


def _compile_tests(bundle: PolicyBundle, tests: list[tuple[str, str, str]]) -> _Compiled | None:
    """Every test compiled at once, as the embedded engine compiles its rules; None if that fails.

    An ad-hoc query compiles the whole bundle again (~0.3 s for the default bundle, so seconds
    for its tests); one build with every test as an entrypoint compiles it once. A test that does
    not pass there is run ad hoc as well, and that outcome is the one reported, so failures and
    errors read as they always did; and where the build fails as a whole (one test that does not
    compile), every test runs ad hoc.
    """
    if not tests:
        return None
    try:
        builder = rego.interpreter()
        rego.load(builder, bundle, bundle.modules)
        entrypoints = [_entrypoint(package, name) for _, package, name in tests]
        compiled = rego.build(builder, entrypoints, bundle.modules, str(bundle.root))
    except rego.RegoFailure:
        return None
    return _Compiled(builder, compiled, rego.interpreter())


def _entrypoint(package: str, name: str) -> str:
    return f"{package.replace('.', '/')}/{name}"


def _compiled_outcome(compiled: _Compiled, file: str, package: str, name: str) -> TestResult:
    try:
        value = rego.query_entrypoint(compiled.runner, compiled.bundle, _entrypoint(package, name), None)
    except rego.RegoFailure as e:
        return TestResult(file, package, name, Outcome.error, str(e))
    return _result(file, package, name, value)


def _adhoc_outcome(interpreter: Interpreter, file: str, package: str, name: str) -> TestResult:
    try:
        value = rego.query(interpreter, f"data.{package}.{name}")
    except rego.RegoFailure as e:
        return TestResult(file, package, name, Outcome.error, str(e))
    return _result(file, package, name, value)


def _result(file: str, package: str, name: str, value: Any) -> TestResult:
    if value is True:
        return TestResult(file, package, name, Outcome.passed)
    detail = "undefined" if value is rego.UNDEFINED else f"evaluated to {value!r:.200}"
    return TestResult(file, package, name, Outcome.failed, detail)
