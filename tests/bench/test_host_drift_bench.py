"""Smoke test of bench/host_drift.py: `--quick` (2 sshd hosts x 20 files) runs end to end, prints
both tools' figures, and each finds exactly the files changed by hand. No timing is asserted.

Needs what the sshd fleet needs (root, openssh-server); skipped otherwise. Ansible comes from the
bench's own virtualenv (bench/ansible_tool.py); where it cannot be installed the bench says why
and this test checks Lockstep's figures only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.sshd import require_sshd

ROOT = Path(__file__).resolve().parents[2]


def test_quick_host_drift_bench_prints_its_figures() -> None:
    require_sshd()
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "host_drift.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    said = " ".join(out.split())  # the figures' columns are padded
    assert "2 hosts x 20 files, 3 files changed by hand" in said, out
    assert "lockstep sweep_environment:" in said, out
    assert "drift found by lockstep: 3/3 files (exact)" in said, out
    assert "unexpected:" not in said, out
    if "ansible: skipped:" not in said:
        for figure in (
            "ansible --check --diff (file loop):",
            "ansible --check --diff (folder copy):",
            "lockstep / fastest ansible:",
            "drift found by ansible (file loop): 3/3 files (exact)",
            "drift found by ansible (folder copy): 2/2 hosts (exact), names no files",
        ):
            assert figure in said, out
