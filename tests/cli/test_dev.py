"""`lockstep dev` as a user runs it: the real Temporal dev server with its UI, a worker, the API
and the demo; the demo deploys; the Temporal UI serves and filters by LockstepApplication; Ctrl-C
stops everything."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from lockstep.devstack.demo import write_dev_config
from lockstep.devstack.temporal_server import port_open

pytestmark = pytest.mark.temporal


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _read_until(stream: asyncio.StreamReader, marker: str, timeout: float) -> str:
    seen = ""

    async def read() -> str:
        nonlocal seen
        while marker not in seen:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"lockstep dev exited before {marker!r}:\n{seen}")
            seen += line.decode()
        return seen

    return await asyncio.wait_for(read(), timeout)


async def _run(*args: str, cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_dev_stack_runs_the_demo_and_stops_cleanly(tmp_path: Path) -> None:
    temporal_port, ui_port, api_port = _free_port(), _free_port(), _free_port()
    state = tmp_path / ".lockstep"
    config = write_dev_config(state, temporal_port=temporal_port, api_listen=f"127.0.0.1:{api_port}")
    env = {**os.environ, "LOCKSTEP_CONFIG": str(config), "COLUMNS": "200"}
    dev = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lockstep",
        "dev",
        "--state-dir",
        str(state),
        "--ui-port",
        str(ui_port),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert dev.stdout is not None
    try:
        banner = await _read_until(dev.stdout, "Ctrl-C stops everything", 120)
        assert "demo seeded" in banner
        assert f"http://127.0.0.1:{ui_port}" in banner and f"http://127.0.0.1:{api_port}/docs" in banner
        assert "lockstep deploy shop --env staging" in banner

        deploy = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lockstep",
            "deploy",
            "shop",
            "--env",
            "staging",
            "--wait",
            "--output",
            "json",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(deploy.communicate(), 120)
        assert deploy.returncode == 0, err.decode()
        deployment = json.loads(out)
        assert deployment["status"] == "succeeded"
        served = state / "targets/staging/srv/shop/web/current/served.html"
        assert "Hello from staging" in served.read_text()

        async with httpx.AsyncClient() as http:
            alice = {"Authorization": f"Bearer {(state / 'tokens' / 'alice').read_text().strip()}"}
            listed = (
                await http.get(f"http://127.0.0.1:{api_port}/deployments?env=staging", headers=alice)
            ).json()
            assert [d["id"] for d in listed] == [deployment["id"]]
            ui = await http.get(f"http://127.0.0.1:{ui_port}/")
            assert ui.status_code == 200

        client = await Client.connect(f"127.0.0.1:{temporal_port}")
        query = 'LockstepApplication = "shop" AND LockstepEnvironment = "staging"'
        found = [w.id async for w in client.list_workflows(query)]
        assert found == [deployment["id"]]

        # A signed GitHub push, as curl sends it: the same commit answers with its deployment.
        script = Path(__file__).resolve().parents[2] / "scripts" / "demo-push.sh"
        push = await _run("bash", str(script), f"http://127.0.0.1:{api_port}", str(state), cwd=tmp_path)
        assert "HTTP/1.1 202" in push and '"existing":true' in push.replace(" ", ""), push
        assert deployment["id"] in push
        demo = state / "demo" / "shop"
        (demo / "web" / "index.html").write_text("<html><body><h1>{{ greeting }}!</h1></body></html>\n")
        await _run(
            "git",
            "-C",
            str(demo),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qam",
            "exclaim",
            cwd=tmp_path,
        )
        pushed = await _run("bash", str(script), f"http://127.0.0.1:{api_port}", str(state), cwd=tmp_path)
        assert "HTTP/1.1 202" in pushed and '"existing":false' in pushed.replace(" ", ""), pushed
        new_id = json.loads(pushed[pushed.index("{") :])["deployments"][0]["id"]
        handle = client.get_workflow_handle(new_id)
        for _ in range(600):
            try:
                await handle.result()
                break
            except Exception:  # queued in the lane: no workflow yet
                await asyncio.sleep(0.1)
        assert "Hello from staging!" in served.read_text()
        assert [w.id async for w in client.list_workflows('LockstepApplication = "other"')] == []
    finally:
        if dev.returncode is None:
            dev.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(dev.communicate(), 60)
    assert dev.returncode == 0, rest[0].decode()
    assert b"stopped" in rest[0]
    for port in (temporal_port, ui_port, api_port):
        assert not port_open("127.0.0.1", port), f"port {port} still open after Ctrl-C"
