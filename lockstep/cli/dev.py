"""`lockstep dev`: the whole stack on the embedded defaults, demo included, until Ctrl-C.

Starts the Temporal dev server (SQLite file and UI), a worker and the API as child processes,
seeds the demo on first start, prints where everything is, and stops it all cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from lockstep.cli.common import console, err_console, fail, handles_errors
from lockstep.devstack.demo import (
    DEMO_SECRET_ENV,
    demo_webhook_secret,
    seed_demo_repository,
    write_dev_config,
)
from lockstep.devstack.temporal_server import port_open, start_dev_server
from lockstep.settings import load_settings


def dev(
    state_dir: Path = typer.Option(Path(".lockstep"), "--state-dir", help="where dev data lives"),
    ui_port: int = typer.Option(8233, "--ui-port", help="Temporal UI port"),
) -> None:
    """Start Temporal (with UI), a worker and the API on the embedded defaults, with a demo app."""
    _dev(state_dir, ui_port)


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    handle = open(log, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen(
        [sys.executable, "-m", "lockstep", *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def _stop(processes: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _, p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for name, p in processes:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            err_console.print(f"{name} did not stop in time; killing it")
            p.kill()


@handles_errors
def _dev(state_dir: Path, ui_port: int) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    config = (
        Path(env["LOCKSTEP_CONFIG"])
        if env.get("LOCKSTEP_CONFIG")
        else write_dev_config(state_dir, temporal_port=7233, api_listen="127.0.0.1:8000")
    )
    env["LOCKSTEP_CONFIG"] = str(config.resolve())
    env.setdefault(DEMO_SECRET_ENV, demo_webhook_secret(state_dir))
    settings = load_settings(config)
    demo = state_dir / "demo" / "shop"
    seeded = any(r.url == str(demo.resolve()) for r in settings.repositories) and seed_demo_repository(demo)

    host, port = settings.temporal.address.rsplit(":", 1)
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with console.status("starting the Temporal dev server"):
            processes.append(
                (
                    "temporal",
                    start_dev_server(
                        db_file=state_dir / "temporal.db",
                        port=int(port),
                        ui_port=ui_port,
                        ip=host,
                        log_file=state_dir / "temporal.log",
                    ),
                )
            )
        processes.append(("worker", _spawn(["worker"], state_dir / "worker.log", env)))
        processes.append(("api", _spawn(["api"], state_dir / "api.log", env)))
        with console.status("starting the worker and the API"):
            deadline = time.monotonic() + 30
            while not port_open(settings.api.host, settings.api.port) and not stopping:
                if time.monotonic() > deadline or any(p.poll() is not None for _, p in processes):
                    raise fail(f"the API did not come up; see {state_dir / 'api.log'}")
                time.sleep(0.2)
        _welcome(settings.api.listen, host, ui_port, config, state_dir, seeded)
        while not stopping:
            for name, p in processes:
                if p.poll() is not None:
                    err_console.print(
                        f"[red]{name} exited with code {p.returncode}[/]; see {state_dir}/{name}.log"
                    )
                    stopping = True
            time.sleep(0.5)
    finally:
        console.print("stopping worker, API and Temporal ...")
        _stop(list(reversed(processes)))
    console.print("stopped")


def _welcome(api: str, host: str, ui_port: int, config: Path, state: Path, seeded: bool) -> None:
    console.print(
        f"""
[bold green]Lockstep is running[/] ({"demo seeded" if seeded else "existing state"} in {state}/)
  Temporal UI   http://{host}:{ui_port}/namespaces/default/workflows
  API           http://{api}/docs
  config        {config}
  logs          {state}/worker.log, {state}/api.log, {state}/temporal.log

Try, in another terminal of this folder (`. .venv/bin/activate` first):
  lockstep plan {state}/demo/shop --env staging
  lockstep deploy shop --env staging --wait     # then production awaits approval
  lockstep list --status awaiting_approval
  export LOCKSTEP_TOKEN=$(cat {state}/tokens/alice)      # also: bob, demo (author)
  lockstep approve <production deployment id> --comment "ship it"
  lockstep status
  lockstep audit verify
Filter in the Temporal UI: LockstepApplication = "shop"
Webhooks: POST http://{api}/webhooks/github, signed with the secret in {state}/demo-webhook-secret
  (scripts/demo-push.sh sends a signed GitHub push of the demo's HEAD)
Ctrl-C stops everything.""",
        highlight=False,
        soft_wrap=True,  # commands to copy: never broken across lines
    )
