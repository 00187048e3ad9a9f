"""`scripts/import_cycles.py` finds no cycle between the project's packages, and would name one."""

from __future__ import annotations

import subprocess
import sys

from scripts.import_cycles import ROOT, cycles, package_of


def test_no_package_imports_one_that_imports_it_back() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/import_cycles.py"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("0 cycle(s) between"), result.stdout


def test_a_cycle_is_named_with_its_packages() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"], "f": ["a"]}
    assert cycles(edges) == [["a", "b", "c"], ["d", "e"]]
    assert cycles({"a": ["b"], "b": ["c"]}) == []


def test_lockstep_counts_by_its_children_the_others_whole() -> None:
    assert package_of("lockstep.store.engine") == "lockstep.store"
    assert package_of("lockstep.settings") == "lockstep.settings"
    assert package_of("lockstep") == "lockstep"
    assert package_of("workflows.lane") == "workflows"
