"""The governance demo as a user runs it on `lockstep dev` (issue: governance, "done when").

A commit bound for production waits in `awaiting_approval` after staging; the author's own
approval is refused; alice approves with `lockstep approve`, bob with `temporal workflow signal`;
it deploys. A component on `redis:latest` is denied with the policy's reason. `lockstep audit
verify` passes, and fails after a row is edited by hand in the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from temporalio.client import Client

from lockstep.devstack.demo import write_dev_config
from lockstep.devstack.temporal_server import temporal_binary
from tests.cli.test_dev import _free_port, _read_until

pytestmark = pytest.mark.temporal

CACHE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache}
spec:
  template:
    spec:
      containers: [{name: redis, image: "redis:latest"}]
"""


async def _cli(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _lockstep(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    return await _cli(sys.executable, "-m", "lockstep", *args, cwd=cwd, env=env)


async def test_production_waits_for_two_release_managers_and_policy_denies_latest(tmp_path: Path) -> None:
    temporal_port, ui_port, api_port = _free_port(), _free_port(), _free_port()
    state = tmp_path / ".lockstep"
    config = write_dev_config(state, temporal_port=temporal_port, api_listen=f"127.0.0.1:{api_port}")
    env = {**os.environ, "LOCKSTEP_CONFIG": str(config), "COLUMNS": "200"}
    env.pop("LOCKSTEP_TOKEN", None)
    dev = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lockstep", "dev", "--state-dir", str(state), "--ui-port", str(ui_port),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert dev.stdout is not None
    token = {name: (state / "tokens" / name).read_text().strip() for name in ("alice", "bob", "demo")}
    try:
        await _read_until(dev.stdout, "Ctrl-C stops everything", 120)
        code, out, err = await _lockstep(
            "deploy", "shop", "--env", "staging", "--wait", cwd=tmp_path, env=env
        )  # fmt: skip
        assert code == 0, err
        staging_id = out.strip().splitlines()[-1].split()[0] if out.strip() else ""
        production_id = ""
        for _ in range(300):
            code, out, _ = await _lockstep(
                "list", "--status", "awaiting_approval", "--output", "json", cwd=tmp_path, env=env
            )
            waiting = json.loads(out) if code == 0 else []
            if waiting:
                production_id = waiting[0]["id"]
                break
            await asyncio.sleep(0.2)
        assert production_id.startswith("shop.production."), f"no production deployment awaits ({staging_id})"
        assert waiting[0]["environment"] == "production"
        code, out, _ = await _lockstep("status", production_id, cwd=tmp_path, env=env)
        assert code == 0 and "awaiting_approval" in out and "awaiting approval: 0 of 2" in out, out

        as_author = {**env, "LOCKSTEP_TOKEN": token["demo"]}
        code, _, err = await _lockstep("approve", production_id, cwd=tmp_path, env=as_author)
        assert code == 1 and "is the author of commit" in err and "in this change" in err, err

        as_alice = {**env, "LOCKSTEP_TOKEN": token["alice"]}
        code, out, err = await _lockstep(
            "approve", production_id, "--comment", "ship it", cwd=tmp_path, env=as_alice
        )
        assert code == 0 and "approval 1 of 2 from alice" in out, (out, err)
        code, out, err = await _cli(
            temporal_binary(), "workflow", "signal", "--address", f"127.0.0.1:{temporal_port}",
            "--workflow-id", production_id, "--name", "approve",
            "--input", '{"approver": "bob", "comment": "checked the dashboards"}',
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert code == 0, out + err
        client = await Client.connect(f"127.0.0.1:{temporal_port}")
        await asyncio.wait_for(client.get_workflow_handle(production_id).result(), 120)
        code, out, _ = await _lockstep("status", production_id, "--output", "json", cwd=tmp_path, env=env)
        shown = json.loads(out)
        assert shown["status"] == "succeeded", shown
        assert [(a["approver"], a["source"]) for a in shown["approvals"]] == [
            ("alice", "api-token"),
            ("bob", "temporal-signal"),
        ]
        served = state / "targets/production/srv/shop/web/current/served.html"
        assert "Hello from production" in served.read_text()

        demo = state / "demo" / "shop"
        manifest = (
            (demo / "lockstep.yaml")
            .read_text()
            .replace(
                "components:\n",
                "components:\n  - name: cache\n    target: cluster\n"
                "    kubernetes: {manifests: k8s/cache.yaml}\n",
                1,
            )
        )
        (demo / "lockstep.yaml").write_text(manifest)
        (demo / "k8s").mkdir()
        (demo / "k8s" / "cache.yaml").write_text(CACHE)
        code, out, err = await _cli(
            "git", "-C", str(demo), "-c", "user.name=t", "-c", "user.email=t@example.com",
            "add", "-A", cwd=tmp_path, env=env,
        )  # fmt: skip
        code, out, err = await _cli(
            "git", "-C", str(demo), "-c", "user.name=t", "-c", "user.email=t@example.com",
            "commit", "-qm", "cache on latest", cwd=tmp_path, env=env,
        )  # fmt: skip
        assert code == 0, err
        code, out, err = await _lockstep("plan", str(demo), "--env", "production", cwd=tmp_path, env=env)
        assert code == 1 and "redis:latest" in out and "denied" in out, out + err
        code, out, err = await _lockstep(
            "deploy", "shop", "--env", "production", "--ref", "HEAD", "--wait", "--output", "json",
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert code == 1, err
        denied = json.loads(out)  # staging cannot be skipped, whoever asks (docs/manifest.md)
        assert denied["status"] == "denied" and "succeeded in staging" in denied["error"], denied

        code, out, err = await _lockstep("audit", "verify", cwd=tmp_path, env=env)
        assert code == 0 and "audit trail intact" in out, out + err
        with sqlite3.connect(state / "lockstep.db") as db:
            db.execute("UPDATE audit_events SET actor = 'mallory' WHERE kind = 'approval'")
        code, out, err = await _lockstep("audit", "verify", cwd=tmp_path, env=env)
        assert code == 1 and "/decision/1" in out + err and "row edited" in out + err, out + err
    finally:
        if dev.returncode is None:
            dev.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(dev.communicate(), 60)
    assert dev.returncode == 0, rest[0].decode()
