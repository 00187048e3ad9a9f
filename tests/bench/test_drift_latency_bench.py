"""Smoke test of bench/drift_latency.py: `--quick` (one hand edit, on the 30 s schedule, so about
a minute) runs on the real Temporal dev server and reports the edit. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_drift_latency_bench_reports_the_edit() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "drift_latency.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "drift.interval 30s, 1 round(s)" in out, out
    assert "round 1: edited" in out and "reported after" in out, out
    assert "missed 0" in out, out
    for figure in ("max latency", "sweeps measured:", "bound: interval 30 s"):
        assert figure in out, out
