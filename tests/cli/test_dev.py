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
            listed = (await http.get(f"http://127.0.0.1:{api_port}/deployments")).json()
            assert [d["id"] for d in listed] == [deployment["id"]]
            ui = await http.get(f"http://127.0.0.1:{ui_port}/")
            assert ui.status_code == 200

        client = await Client.connect(f"127.0.0.1:{temporal_port}")
        found = [w.id async for w in client.list_workflows('LockstepApplication = "shop"')]
        assert found == [deployment["id"]]
        assert [w.id async for w in client.list_workflows('LockstepApplication = "other"')] == []
    finally:
        if dev.returncode is None:
            dev.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(dev.communicate(), 60)
    assert dev.returncode == 0, rest[0].decode()
    assert b"stopped" in rest[0]
    for port in (temporal_port, ui_port, api_port):
        assert not port_open("127.0.0.1", port), f"port {port} still open after Ctrl-C"
