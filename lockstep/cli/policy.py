"""`lockstep policy test|eval`: run the bundle's Rego tests, or evaluate one input, locally.

Both use the embedded engine over a bundle folder (default: `policy.path` from the settings), so
they need no server. Exit codes: 0 pass/allowed, 1 a failing test or a denied input, 2 bad usage
(missing file, invalid JSON).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from lockstep.cli.common import (
    OutputFormat,
    OutputOption,
    console,
    fail,
    handles_errors,
    print_json,
    settings,
)
from lockstep.policy.testing import Outcome, run_tests

app = typer.Typer(
    help="Test and evaluate the Rego policy bundle locally.\n\n"
    "Example: lockstep policy test --path policies\n\n"
    "Docs: policies/README.md, docs/cli.md#lockstep-policy",
    no_args_is_help=True,
)

PathOption = typer.Option(None, "--path", help="bundle folder (default: policy.path from the settings)")

_STYLE = {Outcome.passed: "green", Outcome.failed: "red", Outcome.error: "bold red"}


class Query(StrEnum):
    deploy = "deploy"
    drift = "drift"


def _bundle_path(path: Path | None) -> Path:
    bundle = path if path is not None else Path(settings().policy.path)
    if not bundle.is_dir():
        raise fail(f"policy bundle {bundle} is not a directory", code=2)
    return bundle


@app.command("test")
def test(path: Path | None = PathOption, output: OutputFormat = OutputOption) -> None:
    """Run every `test_*` rule of the bundle's `*_test.rego` files; exit 1 if any does not pass.

    Example: lockstep policy test --path policies

    Docs: policies/README.md, docs/cli.md#lockstep-policy-test
    """
    _test(path, output)


@handles_errors
def _test(path: Path | None, output: OutputFormat) -> None:
    bundle = _bundle_path(path)
    results = run_tests(bundle)
    passed = sum(r.outcome is Outcome.passed for r in results)
    if output == OutputFormat.json:
        print_json(
            {
                "bundle": str(bundle),
                "passed": passed,
                "total": len(results),
                "tests": [
                    {"file": r.file, "query": r.query, "outcome": r.outcome.value, "detail": r.detail}
                    for r in results
                ],
            }
        )
    else:
        for r in results:
            line = f"[{_STYLE[r.outcome]}]{r.outcome.value.upper():6}[/] {r.query}  ({r.file})"
            console.print(line + (f"\n       {r.detail}" if r.detail else ""), highlight=False)
        console.print(f"{passed}/{len(results)} passed", highlight=False)
    if not results or passed != len(results):
        raise typer.Exit(1)


@app.command("eval")
def eval_(
    input: Path = typer.Option(..., "--input", "-i", help="JSON file holding the policy input"),
    query: Query = typer.Option(Query.deploy, "--query", "-q", help="deploy or drift"),
    path: Path | None = PathOption,
    output: OutputFormat = OutputOption,
) -> None:
    """Evaluate data.lockstep.deploy (or drift) for one input; exit 1 when denied.

    Example: lockstep policy eval --input input.json --query deploy

    Docs: policies/README.md, docs/cli.md#lockstep-policy-eval
    """
    _eval(input, query, path, output)


def _read_input(file: Path) -> dict[str, Any]:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"input file {file} does not exist", code=2) from None
    except OSError as e:
        raise fail(f"cannot read input file {file}: {e.strerror or e}", code=2) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise fail(f"input file {file} is not valid JSON: {e}", code=2) from None
    if not isinstance(value, dict):
        raise fail(f"input file {file} must hold a JSON object", code=2)
    return value


@handles_errors
def _eval(file: Path, query: Query, path: Path | None, output: OutputFormat) -> None:
    from lockstep.policy.embedded import EmbeddedPolicyEngine

    document = _read_input(file)
    engine = EmbeddedPolicyEngine(_bundle_path(path))
    if query is Query.drift:
        drift = engine.evaluate_drift(document)
        if output == OutputFormat.json:
            print_json(drift)
        else:
            console.print(f"remediate: {str(drift.remediate).lower()}", highlight=False)
            for reason in drift.reasons:
                console.print(f"  reason: {reason}", highlight=False)
        return
    decision = engine.evaluate_deploy(document)
    if output == OutputFormat.json:
        print_json(decision.model_dump(mode="json") | {"denied": decision.denied})
    else:
        verdict = "[red]denied[/]" if decision.denied else "[green]allowed[/]"
        console.print(f"{verdict}  approvals required: {decision.approvals_required}")
        for reason in decision.deny:
            console.print(f"  deny: {reason}", highlight=False, markup=False)
        for reason in decision.warn:
            console.print(f"  warn: {reason}", highlight=False, markup=False)
        console.print(
            f"bundle {decision.bundle_revision[:12]}  input {decision.input_sha256[:12]}", highlight=False
        )
    if decision.denied:
        raise typer.Exit(1)
