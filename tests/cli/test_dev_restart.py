"""`lockstep dev` keeps going when its worker or Temporal dies, and never hands the worker the
API's secrets.

A real `lockstep dev` (Temporal dev server, worker, API) deploys the demo, whose `db` deploy
command first prints its parent's environment (the issue's `cat /proc/$PPID/environ`), then
sleeps. Mid-deployment the worker is killed with SIGKILL: the stack says it restarts it, the new
worker resumes the deployment and it succeeds. Then the Temporal dev server is killed: it is
started again on the same database, which still holds the deployment. The worker's environment,
before and after its restart, holds no webhook secret (the API's does), so the printed
environment shows none; the deployment is readable with a token only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from temporalio.client import Client

from lockstep.devstack.demo import (
    DEMO_SECRET_ENV,
    demo_token,
    demo_webhook_secret,
    seed_demo_repository,
    write_dev_config,
)
from tests.cli.test_dev import _free_port, _read_until
from tests.support.apprepo import git

pytestmark = pytest.mark.temporal

PRINT_ENVIRON_THEN_SLEEP = "cat /proc/$PPID/environ | tr '\\0' '\\n'; sleep 6; sh ./migrate.sh"


def _children(parent: int) -> dict[str, int]:
    """`worker` / `api` / `start-dev` (Temporal) -> pid of `lockstep dev`'s child of that kind."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"lockstep" in argv and argv[-2:-1] in ([b"worker"], [b"api"]):
            found[argv[-2].decode()] = int(entry.name)
        elif ppid == parent and b"start-dev" in argv:
            found["start-dev"] = int(entry.name)
    return found


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


async def _worker_pid(parent: int, *, not_: int | None = None) -> int:
    for _ in range(300):
        pid = _children(parent).get("worker")
        if pid is not None and pid != not_:
            return pid
        await asyncio.sleep(0.1)
    raise AssertionError("no worker process under lockstep dev")


async def test_a_killed_worker_is_restarted_and_the_deployment_in_flight_succeeds(tmp_path: Path) -> None:
    temporal_port, ui_port, api_port = _free_port(), _free_port(), _free_port()
    state = tmp_path / ".lockstep"
    config = write_dev_config(state, temporal_port=temporal_port, api_listen=f"127.0.0.1:{api_port}")
    raw = yaml.safe_load(config.read_text())
    raw["deployment"] = {"heartbeat_timeout": "5s"}  # the killed worker's activity is retried soon
    config.write_text(yaml.safe_dump(raw))
    demo = state / "demo" / "shop"
    seed_demo_repository(demo)
    manifest = (demo / "lockstep.yaml").read_text()
    command = PRINT_ENVIRON_THEN_SLEEP.replace("\\", "\\\\")  # in YAML's double quotes
    (demo / "lockstep.yaml").write_text(manifest.replace('"sh ./migrate.sh"', f'"{command}"'))
    git(demo, "commit", "-qam", "db: print the environment, take a while")
    secret = demo_webhook_secret(state)
    env = {**os.environ, "LOCKSTEP_CONFIG": str(config), "COLUMNS": "200"}
    env.pop(DEMO_SECRET_ENV, None)
    bearer = {"Authorization": f"Bearer {demo_token(state, 'alice')}"}
    dev = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lockstep", "dev", "--state-dir", str(state), "--ui-port", str(ui_port),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert dev.stdout is not None
    try:
        await _read_until(dev.stdout, "Ctrl-C stops everything", 120)
        worker = await _worker_pid(dev.pid)
        assert DEMO_SECRET_ENV not in _environ(worker), "the worker must never be given the webhook secret"
        assert _environ(_children(dev.pid)["api"]).get(DEMO_SECRET_ENV) == secret, "the API needs it"

        deploy = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lockstep", "deploy", "shop", "--env", "staging",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(deploy.communicate(), 120)
        assert deploy.returncode == 0, err.decode()
        deployment_id = out.decode().split()[-1]
        url = f"http://127.0.0.1:{api_port}/deployments/{deployment_id}"
        async with httpx.AsyncClient() as http:
            for _ in range(600):  # until the worker is inside db's deploy command
                view = (await http.get(url, headers=bearer)).json()
                assert view.get("finished_at") is None, f"ended before the kill: {view.get('error')}"
                if any(s["component"] == "db" and s["status"] == "running" for s in view.get("steps", [])):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("db's deploy never started")
            os.kill(worker, signal.SIGKILL)
            said = await _read_until(dev.stdout, "worker restarted", 60)
            assert "worker exited with code -9 (killed by SIGKILL); restarting in 1s" in said, said
            assert str(state / "worker.log") in said

            assert DEMO_SECRET_ENV not in _environ(await _worker_pid(dev.pid, not_=worker))
            client = await Client.connect(f"127.0.0.1:{temporal_port}")
            result = await asyncio.wait_for(client.get_workflow_handle(deployment_id).result(), 180)
            assert result["status"] == "succeeded", result

            # Temporal itself dies: it comes back on the same SQLite file, history and all.
            os.kill(_children(dev.pid)["start-dev"], signal.SIGKILL)
            said = await _read_until(dev.stdout, "the Temporal dev server restarted", 90)
            assert "the Temporal dev server exited with code -9 (killed by SIGKILL); restarting in 1s" in said
            client = await Client.connect(f"127.0.0.1:{temporal_port}")
            assert (await client.get_workflow_handle(deployment_id).result())["status"] == "succeeded"

            assert (await http.get(url)).status_code == 401, "reads need a token"
            shown = (await http.get(url, headers=bearer)).json()
        db_output = next(
            s["output"] for s in shown["steps"] if (s["component"], s["action"]) == ("db", "deploy")
        )
        assert "LOCKSTEP_CONFIG=" in db_output, "the command did print its parent's environment"
        assert DEMO_SECRET_ENV not in db_output and secret not in db_output
    finally:
        if dev.returncode is None:
            dev.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(dev.communicate(), 60)
    assert dev.returncode == 0, rest[0].decode()
