"""`lockstep dev`: the whole stack on the embedded defaults, demo included, until Ctrl-C.

Starts the Temporal dev server (SQLite file and UI), a worker and the API as child processes,
seeds the demo on first start, prints where everything is, restarts a child that dies (saying
so, with backoff) and stops it all cleanly on Ctrl-C.
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
from lockstep.devstack.supervisor import Child, Supervisor
from lockstep.devstack.temporal_server import port_open, start_dev_server
from lockstep.security.known_secrets import api_environment, worker_environment
from lockstep.security.private_files import private_dir
from lockstep.settings import Settings, load_settings


def dev(
    state_dir: Path = typer.Option(Path(".lockstep"), "--state-dir", help="where dev data lives"),
    ui_port: int = typer.Option(8233, "--ui-port", help="Temporal UI port"),
) -> None:
    """Start Temporal (with UI), a worker and the API on the embedded defaults, with a demo app.

    Runs until Ctrl-C; a process that dies is started again, with backoff.

    Example: lockstep dev --state-dir .lockstep

    Docs: docs/cli.md#lockstep-dev
    """
    _dev(state_dir, ui_port)


def _spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # The child gets its own copy of the log's descriptor; closing ours keeps restarts from
    # piling open files up in this process.
    with open(log, "ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "lockstep", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _children(settings: Settings, state_dir: Path, ui_port: int, env: dict[str, str]) -> list[Child]:
    """Temporal, the worker and the API, each with what it may hold: the worker is started without
    the API's secrets, since a deploy command on a local target can read its parent's environ."""
    host, port = settings.temporal.address.rsplit(":", 1)
    db_file = state_dir / "temporal.db"
    worker_env, api_env = worker_environment(settings, env), api_environment(env)

    def temporal() -> subprocess.Popen[bytes]:
        return start_dev_server(
            db_file=db_file, port=int(port), ui_port=ui_port, ip=host, log_file=state_dir / "temporal.log"
        )

    return [
        Child(
            "the Temporal dev server",
            state_dir / "temporal.log",
            temporal,
            note=f"workflows wait meanwhile, and resume from {db_file}",
        ),
        Child(
            "worker",
            state_dir / "worker.log",
            lambda: _spawn(["worker"], state_dir / "worker.log", worker_env),
        ),
        Child("api", state_dir / "api.log", lambda: _spawn(["api"], state_dir / "api.log", api_env)),
    ]


@handles_errors
def _dev(state_dir: Path, ui_port: int) -> None:
    private_dir(state_dir)
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

    host = settings.temporal.address.rsplit(":", 1)[0]
    stack = Supervisor(_children(settings, state_dir, ui_port, env), say=_say)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with console.status("starting Temporal, the worker and the API"):
            stack.start_all()
            deadline = time.monotonic() + 30
            while not port_open(settings.api.host, settings.api.port) and not stopping:
                stack.check()
                if time.monotonic() > deadline:
                    raise fail(f"the API did not come up within 30 s; see {state_dir / 'api.log'}")
                time.sleep(0.2)
        _welcome(settings, host, ui_port, config, state_dir, seeded)
        # A child that dies is started again (lockstep.devstack.supervisor); only Ctrl-C, or a
        # child that keeps dying at once, ends the stack.
        while not stopping:
            stack.check()
            time.sleep(0.5)
    finally:
        console.print("stopping worker, API and Temporal ...")
        stack.stop()
    console.print("stopped")


def _say(message: str) -> None:
    err_console.print(message, highlight=False, markup=False)


def _welcome(settings: Settings, host: str, ui_port: int, config: Path, state: Path, seeded: bool) -> None:
    api, metrics = settings.api.listen, settings.temporal.metrics_listen
    console.print(
        f"""
[bold green]Lockstep is running[/] ({"demo seeded" if seeded else "existing state"} in {state}/)
  Temporal UI   http://{host}:{ui_port}/namespaces/default/workflows
  API           http://{api}/docs
  metrics       {f"http://{metrics}/metrics (the worker's)" if metrics else "off (temporal.metrics_listen)"}
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
