"""Where saved workflow histories live, and the patches each workflow has shipped (issue 13).

`tests/histories/<workflow>/<version>/<name>.json`, where `<version>` is `<n>-<newest patch>` of
the code that recorded it (`0-unpatched` before the first patch). Adding a patch to a workflow
means adding it to `PATCHES` here: recordings then go to a new directory, and every older
history stays where it is, the only witness of how runs started before that patch behave.
Histories are write-once: `record_history` never replaces a file.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

HISTORIES = Path(__file__).resolve().parents[1] / "histories"

# Workflow type -> directory under tests/histories.
DIRECTORIES = {"Deployment": "deployment", "EnvironmentLane": "lane", "DriftSweep": "drift"}

# Workflow type -> its patch ids in the order they shipped (docs/operations.md says what each
# guards and when it retires). tests/workflows/test_replay.py checks this against the code.
PATCHES: dict[str, tuple[str, ...]] = {
    "Deployment": (
        "governance",
        "fail-cleanly",
        "promote-from",
        "rules-changed",
        "nothing-to-undo",
        "unambiguous-ids",
        "rejoin-lane",
        "compensate-first",
        "decisions-never-fail",
        "count-when-recorded",
    ),
    "EnvironmentLane": ("signalled-lane", "lane-survives"),
    "DriftSweep": (),
}


def version(workflow_type: str, known: int | None = None) -> str:
    """The directory name of a version: the first `known` patches (all of them by default)."""
    patches = PATCHES[workflow_type]
    count = len(patches) if known is None else known
    return f"{count}-{patches[count - 1]}" if count else "0-unpatched"


def current_directory(workflow_type: str) -> Path:
    """Where today's code records its histories of `workflow_type`."""
    return HISTORIES / DIRECTORIES[workflow_type] / version(workflow_type)


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Save a history for the replay test (LOCKSTEP_RECORD_HISTORIES=1), once: an existing file
    is kept, since it may be the only history of a path as it ran before a later patch."""
    if os.environ.get("LOCKSTEP_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    path = current_directory(started.workflow_type.name) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x") as saved:
            saved.write(history.to_json())
    except FileExistsError:
        warnings.warn(f"{path} exists and is kept: histories are write-once", stacklevel=2)
