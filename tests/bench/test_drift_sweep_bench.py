"""Smoke test of bench/drift_sweep.py: `--quick` runs end to end and prints every figure, and
the sweep it times finds exactly the drift it planted. No timing is asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_drift_sweep_bench_prints_its_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "drift_sweep.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "200 objects (4 applications):" in out
    for figure in ("ms/object", "objects/s", "requests/object", "CPU: sweep threads", "peak RSS"):
        assert figure in out, out
    assert out.count("drift found 2/2 (exact)") == 2, out  # sequential and pool of 4
    assert "unexpected:" not in out, out
