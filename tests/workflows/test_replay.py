"""Saved histories must replay against today's code, and cover both sides of every patch.

A change that would break running workflows (new commands in a different order, without
`workflow.patched`) fails here. Histories are write-once and kept by version
(tests/workflows/history_versions.py): `LOCKSTEP_RECORD_HISTORIES=1 pytest <a workflow test>`
adds the ones missing from today's version directory and never replaces a file, since an older
history may be the only witness of a path as it ran before a later patch.

Each replay notes what every `workflow.patched(...)` call answered, so the test knows, per patch,
which histories took its new branch and which its old one: a patch retires (docs/operations.md)
only once both are covered, or the gap is listed below with its reason.
"""

from __future__ import annotations

import ast
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker._workflow_instance import _WorkflowInstanceImpl

import workflows
from tests.workflows.history_versions import DIRECTORIES, HISTORIES, PATCHES, version
from workflows.deployment import DeploymentWorkflow
from workflows.drift import DriftSweep
from workflows.lane import EnvironmentLane

SAVED = sorted(HISTORIES.rglob("*.json"))

# (patch, branch) with no saved history, and why. Remove an entry once a history covers it.
KNOWN_GAPS = {
    # The old branch re-raises, failing the workflow task: no task that took it ever completes,
    # so a replay never runs it (deployment-internal-error-task-fails is such a run, terminated).
    ("fail-cleanly", False): "the old branch only fails workflow tasks, which replay skips",
}


def _name(path: Path) -> str:
    return str(path.relative_to(HISTORIES).with_suffix(""))


def _markers(path: Path) -> set[str]:
    """The patch markers a history holds, read from its events."""
    found = set()
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_patch":
            payload = marker["details"]["patch-data"]["payloads"][0]["data"]
            found.add(json.loads(base64.b64decode(payload))["id"])
    return found


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bool]]:
    """What each `workflow.patched(id)` answered during a replay (the SDK has no public hook for
    it; this wraps its workflow instance's method, which every patched() call goes through)."""
    seen: dict[str, bool] = {}
    original = _WorkflowInstanceImpl.workflow_patch

    def noting(self: _WorkflowInstanceImpl, id: str, **kwargs: object) -> bool:
        used: bool = original(self, id, **kwargs)  # type: ignore[arg-type]
        seen.setdefault(id, used)
        return used

    monkeypatch.setattr(_WorkflowInstanceImpl, "workflow_patch", noting)
    yield seen


async def _replay(path: Path) -> None:
    replayer = Replayer(
        workflows=[DeploymentWorkflow, EnvironmentLane, DriftSweep], data_converter=pydantic_data_converter
    )
    history = WorkflowHistory.from_json(_name(path), path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


@pytest.mark.parametrize("path", SAVED, ids=[_name(p) for p in SAVED])
async def test_replay(path: Path, answers: dict[str, bool]) -> None:
    await _replay(path)
    assert {p for p, used in answers.items() if used} == _markers(path), "patched() agrees with the markers"


async def test_every_patch_has_both_branches_covered(answers: dict[str, bool]) -> None:
    covered: dict[tuple[str, bool], list[str]] = {}
    for path in SAVED:
        answers.clear()
        await _replay(path)
        for patch, used in answers.items():
            covered.setdefault((patch, used), []).append(_name(path))
    every = {(patch, used) for patches in PATCHES.values() for patch in patches for used in (True, False)}
    missing = {key for key in every if key not in covered}
    assert missing == set(KNOWN_GAPS), f"uncovered: {sorted(missing - set(KNOWN_GAPS))}; " + (
        f"no longer gaps: {sorted(set(KNOWN_GAPS) - missing)}"
    )


def test_histories_sit_in_their_version() -> None:
    """A history holds only markers of patches its version directory knew."""
    assert SAVED
    for path in SAVED:
        relative = path.relative_to(HISTORIES)
        assert len(relative.parts) == 3, f"{relative}: expected <workflow>/<version>/<name>.json"
        workflow_type = next(t for t, d in DIRECTORIES.items() if d == relative.parts[0])
        versions = {version(workflow_type, n): n for n in range(len(PATCHES[workflow_type]) + 1)}
        assert relative.parts[1] in versions, f"{relative}: unknown version"
        known = PATCHES[workflow_type][: versions[relative.parts[1]]]
        assert _markers(path) <= set(known), f"{relative} holds a marker its version did not know"


def test_the_catalogue_lists_every_patch_the_code_asks_for() -> None:
    """Every `workflow.patched(X)` in workflows/ names a patch in history_versions.PATCHES."""
    asked = set()
    for source in Path(workflows.__file__).parent.glob("*.py"):
        tree = ast.parse(source.read_text())
        constants = {
            target.id: node.value.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr in ("patched", "deprecate_patch"):
                argument = node.args[0]
                if isinstance(argument, ast.Constant):
                    asked.add(argument.value)
                else:
                    assert isinstance(argument, ast.Name), f"{source}: a patch id is a name or a string"
                    asked.add(constants[argument.id])
    assert asked == {patch for patches in PATCHES.values() for patch in patches}
