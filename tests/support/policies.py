"""The default policy bundle, copied with its change window open every day, so workflow tests
behave the same on a Saturday; `policies/` itself is tested as shipped in tests/policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

BUNDLE = Path(__file__).resolve().parents[2] / "policies"
ALL_WEEK = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def open_window_bundle(dest: Path) -> Path:
    """A copy of the default bundle at `dest` whose protected environments may change any day."""
    shutil.copytree(BUNDLE, dest)
    data_file = dest / "data.json"
    data = json.loads(data_file.read_text())
    data["lockstep"]["config"]["change_window"]["days"] = ALL_WEEK
    data_file.write_text(json.dumps(data, indent=2))
    return dest
