"""`lockstep worker` says so when its environment holds a secret only the API needs (a webhook
secret): a deploy command on a local target could read it from /proc/<worker>/environ."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import yaml


async def _worker_stderr(tmp_path: Path, extra_env: dict[str, str]) -> str:
    config = tmp_path / "lockstep-server.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                # Nothing listens there: the worker gives up on connecting once it has started.
                "temporal": {"address": "127.0.0.1:1"},
                "state_dir": str(tmp_path / "state"),
                "repositories": [
                    {"url": str(tmp_path / "shop"), "webhook_secret_env": "SHOP_WEBHOOK_SECRET"}
                ],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "SHOP_WEBHOOK_SECRET"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lockstep", "worker",
        cwd=tmp_path, env={**env, "LOCKSTEP_CONFIG": str(config), "COLUMNS": "200", **extra_env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 1, (out + err).decode()
    return err.decode()


async def test_a_worker_holding_a_webhook_secret_warns_once_naming_it(tmp_path: Path) -> None:
    stderr = await _worker_stderr(tmp_path, {"SHOP_WEBHOOK_SECRET": "whsec-0123456789"})
    warnings = [line for line in stderr.splitlines() if "only the API needs" in line]
    assert len(warnings) == 1, stderr
    assert "WARNING" in warnings[0] and "SHOP_WEBHOOK_SECRET" in warnings[0]
    assert "whsec-0123456789" not in stderr, "the name, never the value"


async def test_a_worker_started_without_it_says_nothing(tmp_path: Path) -> None:
    stderr = await _worker_stderr(tmp_path, {})
    assert "only the API needs" not in stderr
    assert "cannot reach Temporal at 127.0.0.1:1" in stderr
