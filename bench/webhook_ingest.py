"""Benchmark: how fast Lockstep's webhook endpoint accepts signed pushes, against bare Temporal starts.

One Temporal dev server, configured as `lockstep dev` runs it (SQLite file, WAL). The real webhook
router (`create_webhook_router` with the real `TemporalEnqueuer`) is served by uvicorn in its own
process on a loopback port; this process only sends prepared requests and times them.
`create_app` takes no limits, so the router is mounted on a bare FastAPI app with a rate limit too
high to interfere.

Each request is a signed GitHub push (X-GitHub-Event, a unique X-GitHub-Delivery, X-Hub-Signature-256)
of a distinct, pre-created commit, so nothing is deduplicated. The API then: checks content type,
body size and rate limit, decodes the JSON, matches the repository, verifies the HMAC, resolves the
commit in its Git mirror, reads `lockstep.yaml` at that commit, picks the environment of the pushed
branch, starts the Deployment workflow under its id (status queued, with its search attributes);
202 once Temporal has started it. Pushes are spread round-robin over several branches, one
environment (and lane) each.

The floor, in the same run and on the same server: bare `client.start_workflow` of a workflow type
no worker polls, with unique ids. Two phases each: paced at 50/s (latency p50/p99 to the answer)
and a burst with bounded concurrency (accepted per second), repeated in rounds (medians reported).
Prints figures; asserts nothing.

By default no worker executes the queued deployments either, so both sides measure the same
thing: the path to the answer. `--with-worker` also runs the real Lockstep worker in a third
process, which executes every queued deployment, its lane and each lane's winner while the
pushes arrive: a whole-system figure for one machine, where the floor's side still executes
nothing (on 2 cores the downstream work saturates the server; see the closing figures).

Run from the repository root: `.venv/bin/python bench/webhook_ingest.py [--with-worker]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.load_phases import Round, Send, burst, pct, run_round
from bench.loopback_http import HttpError, LoopbackClient
from lockstep import search_attributes as sa
from lockstep.api.webhooks import TemporalEnqueuer, create_webhook_router
from lockstep.devstack.temporal_server import sqlite_pragma_args, temporal_binary
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.client import connect
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.webhooks.limits import WebhookLimits
from lockstep.webhooks.signatures import hmac_sha256_hex
from workers.main import build_worker

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "webhooks" / "fixtures" / "github-push.json"
SECRET_ENV = "LOCKSTEP_BENCH_WEBHOOK_SECRET"
SECRET = "bench-" + uuid.uuid4().hex
REPO_NAME = "bench-org/bench-app"
LIMITS = WebhookLimits(requests_per_minute=1_000_000, burst=100_000)
P99_TARGET, BURST_TARGET = 1.5, 0.8


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
        input=stdin,
    ).stdout.strip()


def manifest(lanes: int) -> str:
    lines = ["application: bench", "environments:"]
    for k in range(lanes):
        lines += [f"  - name: e{k}", f"    branch: b{k}", f"    targets: {{site: local-e{k}}}"]
    lines += [
        "components:",
        "  - name: app",
        "    target: site",
        "    host: {files: [{src: app/, dest: /srv/app}]}",
    ]
    return "\n".join(lines) + "\n"


def make_repo(repo: Path, lanes: int, commits: int) -> list[str]:
    """A repository with `lockstep.yaml` and `commits` further empty commits on main; their shas."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "lockstep.yaml").write_text(manifest(lanes))
    (repo / "app").mkdir()
    (repo / "app" / "index.html").write_text("<h1>bench</h1>\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench application")
    stream = []
    for i in range(commits):  # fast-import: hundreds of empty commits in one process
        message = f"bench commit {i}\n"
        stream += [
            "commit refs/heads/main",
            f"committer bench <bench@example.com> {1_700_000_000 + i} +0000",
            f"data {len(message)}",
            message,
        ]
        if i == 0:
            stream.append("from refs/heads/main^0")
        stream.append("")
    git(repo, "fast-import", "--quiet", stdin="\n".join(stream) + "\n")
    shas = git(repo, "rev-list", "--reverse", f"-{commits}", "main").split()
    for k in range(lanes):
        git(repo, "branch", "-f", f"b{k}", "main")
    return shas


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def work(settings_file: Path) -> None:
    """A child process: the real Lockstep worker, until terminated."""
    settings = Settings(**json.loads(settings_file.read_text()))

    async def run() -> None:
        client = await connect(settings.temporal)
        async with build_worker(client, settings):
            await asyncio.Event().wait()

    asyncio.run(run())


def serve(settings_file: Path, port: int) -> None:
    """The child process: the real webhook router and enqueuer under uvicorn."""
    settings = Settings(**json.loads(settings_file.read_text()))
    store = Store.from_url(settings.database_url)
    app = FastAPI()
    enqueuer = TemporalEnqueuer(settings=settings, store=store)
    app.include_router(
        create_webhook_router(settings, enqueuer, GitMirrors(settings.mirrors_dir), limits=LIMITS)
    )
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, timeout_keep_alive=75
    )


async def wait_for_api(http: LoopbackClient, process: subprocess.Popen[bytes]) -> None:
    probe = http.prepare("GET", "/", b"", {})
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"the API process exited with {process.returncode}")
        try:
            await http.send(probe)
            return
        except (OSError, HttpError):
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not come up within 30 s")


class Pushes:
    """Signed GitHub pushes of distinct commits, round-robin over the lanes' branches.

    Every request is built and signed before the timing starts, as a Git host would have it
    ready: the load generator shares the machine with what it measures.
    """

    def __init__(self, http: LoopbackClient, shas: list[str], lanes: int) -> None:
        template = json.loads(FIXTURE.read_text())
        template["repository"]["full_name"] = REPO_NAME
        self.http = http
        self.requests = iter([self._request(template, sha, f"b{i % lanes}") for i, sha in enumerate(shas)])

    def _request(self, template: dict[str, Any], sha: str, branch: str) -> bytes:
        payload = dict(template, ref=f"refs/heads/{branch}", after=sha, head_commit=None, commits=[])
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(SECRET, body),
        }
        return self.http.prepare("POST", "/webhooks/github", body, headers)

    async def __call__(self) -> int:
        status, body = await self.http.send(next(self.requests))
        if status == 202:
            fresh = [d for d in json.loads(body)["deployments"] if not d["existing"]]
            if len(fresh) != 1:  # accepted but nothing new queued: would flatter the figures
                return 299
        return status


def bare_starts(client: Client, task_queue: str) -> Send:
    async def start() -> int:
        await client.start_workflow("BenchNoop", id=f"floor-{uuid.uuid4().hex}", task_queue=task_queue)
        return 202

    return start


async def settle(client: Client, timeout: float = 300) -> None:
    """Until no Deployment workflow runs (the lanes are idle), then a breath more."""
    deadline = time.monotonic() + timeout
    query = 'WorkflowType = "Deployment" AND ExecutionStatus = "Running"'
    while (await client.count_workflows(query)).count > 0:
        if time.monotonic() > deadline:
            print("deployments still running after the wait; measuring anyway", file=sys.stderr)
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)


async def main(
    lanes: int, rate: float, seconds: float, total: int, concurrency: int, rounds: int, with_worker: bool
) -> None:
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-"))
    warmup = 2 * lanes
    per_round = warmup + int(rate * seconds) + total
    shas = make_repo(work / "bench-app", lanes, rounds * per_round)
    os.environ[SECRET_ENV] = SECRET  # the API process inherits it
    results = []
    for k in range(rounds):
        # A fresh server (and API, and worker) each round: thousands of workflows a round leaves
        # open (with no worker, none ends) would slow the next round's starts, unequally.
        results.append(
            await run_on_fresh_stack(
                work / f"round-{k + 1}",
                work / "bench-app",
                shas[k * per_round : (k + 1) * per_round],
                lanes=lanes,
                warmup=warmup,
                with_worker=with_worker,
                phases={"rate": rate, "seconds": seconds, "total": total, "concurrency": concurrency},
                lockstep_first=k % 2 == 1,
            )
        )
    report(
        results,
        lanes=lanes,
        rate=rate,
        seconds=seconds,
        total=total,
        concurrency=concurrency,
        with_worker=with_worker,
    )
    sys.stdout.flush()
    os._exit(0)  # the SDK can abort at interpreter exit (sdk-python#300)


async def run_on_fresh_stack(
    work: Path,
    repository: Path,
    shas: list[str],
    *,
    lanes: int,
    warmup: int,
    with_worker: bool,
    phases: dict[str, Any],
    lockstep_first: bool,
) -> Round:
    """One round on its own Temporal dev server, API process and (with a worker) worker."""
    work.mkdir(parents=True)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        search_attributes=list(sa.ALL),
        data_converter=pydantic_data_converter,
        dev_server_database_filename=str(work / "temporal.db"),
        dev_server_extra_args=sqlite_pragma_args(),
    )
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    settings = Settings(
        temporal={"address": env.client.service_client.config.target_host, "task_queue": queue},
        database_url=f"sqlite:///{work / 'lockstep.db'}",
        state_dir=str(work / "state"),
        repositories=[{"url": str(repository), "name": REPO_NAME, "webhook_secret_env": SECRET_ENV}],
        targets={f"local-e{k}": {"type": "local", "root": str(work / f"target-e{k}")} for k in range(lanes)},
    )
    settings_file = work / "settings.json"
    settings_file.write_text(settings.model_dump_json())
    Store.from_url(settings.database_url)  # the tables, before two processes race to create them
    port = free_port()
    # Without a worker the queued deployments only wait: what is left is the path to the 202.
    worker_args = ["--work", str(settings_file)] if with_worker else ["--idle"]
    worker = subprocess.Popen([sys.executable, __file__, *worker_args])
    api = subprocess.Popen([sys.executable, __file__, "--serve", str(settings_file), "--port", str(port)])
    floor = bare_starts(env.client, queue + "-floor")
    http = LoopbackClient("127.0.0.1", port)
    try:
        await wait_for_api(http, api)
        pushes = Pushes(http, shas, lanes)
        # Warm-up, not counted: starts every lane, clones the mirror, connects both clients.
        _, warm = await burst(pushes, warmup, lanes)
        await burst(floor, 20, 10)
        if set(warm) != {202}:
            print(f"warm-up answered {dict(warm)}: is the setup wrong?", file=sys.stderr)

        # Every phase starts on a quiet server: the deployments an earlier phase queued have
        # all ended (with no worker they only wait, so there is nothing to wait for).
        async def quiet() -> None:
            await (settle(env.client) if with_worker else asyncio.sleep(2))

        return await run_round(pushes, floor, quiet, **phases, lockstep_first=lockstep_first)
    finally:
        await http.close()
        for child in (api, worker):
            child.terminate()
            child.wait(timeout=10)
        await env.shutdown()


def report(
    results: list[Round],
    *,
    lanes: int,
    rate: float,
    seconds: float,
    total: int,
    concurrency: int,
    with_worker: bool,
) -> None:
    print(
        f"webhook_ingest: signed GitHub pushes of distinct commits over {lanes} branches/lanes, "
        "real webhook router + TemporalEnqueuer under uvicorn (own process, loopback), "
        "router mounted on a bare FastAPI app (create_app takes no limits) with limits "
        f"{LIMITS.requests_per_minute:.0f}/min burst {LIMITS.burst}; "
        + (
            "Lockstep worker in its own process, executing every deployment (--with-worker); "
            if with_worker
            else "no worker executes the queued deployments, as none executes the floor's; "
        )
        + "Temporal dev server as lockstep dev runs it (SQLite file, WAL)"
    )
    print(
        "  a request: content type, size, rate limit, JSON, repository match, HMAC verify, resolve "
        "commit in the mirror, read lockstep.yaml at it, pick the branch's environment, choose the "
        "deployment id and start its workflow (queued; it joins its lane itself); 202 once started"
    )
    print("  floor: bare client.start_workflow (unique ids, no worker polls the type), same server")
    print("  not accepted: 0 = no answer (client timeout 60 s), 299 = 202 but no new deployment queued")
    for k, r in enumerate(results, 1):
        print(
            f"  round {k}: paced {rate:.0f}/s for {seconds:.0f} s: "
            f"lockstep p50 {pct(r.lock_paced, 0.5):.0f} ms "
            f"p99 {pct(r.lock_paced, 0.99):.0f} ms, floor p50 {pct(r.floor_paced, 0.5):.0f} ms "
            f"p99 {pct(r.floor_paced, 0.99):.0f} ms, ratio {r.p99_ratio:.2f}; burst of {total} "
            f"(concurrency {concurrency}): lockstep {r.lock_rate:.0f}/s, floor {r.floor_rate:.0f}/s, "
            f"ratio {r.burst_ratio:.2f}{r.not_accepted}"
        )
    p99_ratio = statistics.median(r.p99_ratio for r in results)
    burst_ratio = statistics.median(r.burst_ratio for r in results)

    def verdict(met: bool) -> str:
        if with_worker:  # the floor executes nothing: a whole-system figure, not the target's
            return "(whole system; the targets are for the default mode)"
        return "MET" if met else "NOT MET"

    print(
        f"webhook_ingest: paced {rate:.0f}/s, median of {len(results)} rounds: p99 ratio {p99_ratio:.2f} "
        f"(target <= {P99_TARGET}) {verdict(p99_ratio <= P99_TARGET)}"
    )
    print(
        f"burst: median of {len(results)} rounds: ratio {burst_ratio:.2f} (target >= {BURST_TARGET}) "
        f"{verdict(burst_ratio >= BURST_TARGET)}"
    )
    lock_all = [lat for r in results for lat in r.lock_paced]
    if lock_all:
        print(
            f"  lockstep paced: mean {statistics.mean(lock_all) * 1000:.0f} ms over {len(lock_all)} accepted"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=8, help="branches, one environment lane each")
    parser.add_argument("--rate", type=float, default=50.0, help="paced phase: requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced phase: duration")
    parser.add_argument("--burst", type=int, default=1000, help="burst phase: requests")
    parser.add_argument("--concurrency", type=int, default=50, help="burst phase: in flight at once")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the four phases; medians reported")
    parser.add_argument(
        "--with-worker",
        action="store_true",
        help="also run the Lockstep worker, executing every deployment while pushes arrive",
    )
    parser.add_argument("--without-worker", action="store_true", help=argparse.SUPPRESS)  # the default
    parser.add_argument("--idle", action="store_true", help=argparse.SUPPRESS)  # stands in for the worker
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the API child process
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)  # the worker child process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.port)
    elif args.work is not None:
        work(args.work)
    elif args.idle:
        time.sleep(3600)
    else:
        asyncio.run(
            main(
                args.lanes,
                args.rate,
                args.seconds,
                args.burst,
                args.concurrency,
                args.rounds,
                args.with_worker,
            )
        )
