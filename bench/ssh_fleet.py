"""Benchmark: deploying one `host` component to 1, 5 and 10 real sshd hosts, three ways.

The work per host, the same for all three: copy FILES small files into `releases/<rev>`, switch
`current` to it, run one deploy command, run one check command. The hosts are loopback sshd
instances with their own files (tests/support/sshd.py; needs root and openssh-server).

- Lockstep: the real Deployment workflow (Temporal dev server, store, journal, policy) onto an
  `ssh` target whose `batch` is the fleet size. Wall time from starting the deployment to its
  final status, client side.
- Ansible: `ansible-playbook` (ansible-core) with the obvious modules (file, copy, file, shell,
  command), forks = hosts, pipelining on, its default ssh ControlPersist. Found next to this
  Python, on PATH or at $ANSIBLE_PLAYBOOK; skipped, saying why, when absent.
- Floor: a bare script of paramiko calls, one thread per host (connect, SFTP puts, symlink and
  rename, two exec channels).

Prints medians and the ratios Lockstep / Ansible and Lockstep / floor. Asserts nothing.
Run from the repository root as root: `.venv/bin/python bench/ssh_fleet.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paramiko
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench import ansible_tool
from lockstep import search_attributes as sa
from lockstep.devstack.temporal_server import sqlite_pragma_args, temporal_binary
from lockstep.domain.messages import DeploymentResult
from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.deployments import start_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.sshd import SshFleet, missing_tools, running_fleet
from workers.main import build_worker

SIZES = (1, 5, 10)
FILES = 20


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        check=True,
        capture_output=True,
    )


def manifest(root: Path) -> str:
    envs = "".join(f"  - name: n{n}\n    targets: {{vms: fleet-{n}}}\n" for n in SIZES)
    return (
        f"application: bench\nenvironments:\n{envs}components:\n  - name: web\n    target: vms\n"
        f"    host:\n      files: [{{src: web/, dest: {root}/lockstep/web}}]\n"
        f'      deploy: ["echo $LOCKSTEP_COMMIT >> {root}/lockstep/deploys"]\n'
        '    health: {commands: ["test -f index.html"], timeout: 30s}\n'
    )


def new_revision(repo: Path, rev: int) -> None:
    web = repo / "web"
    web.mkdir(parents=True, exist_ok=True)
    for i in range(FILES):
        (web / f"file{i:02}.txt").write_text(f"revision {rev} file {i}\n" * 100)
    (web / "index.html").write_text(f"<h1>revision {rev}</h1>\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"revision {rev}")


def floor_host(fleet: SshFleet, port: int, files: dict[str, bytes], rev: str) -> None:
    client = paramiko.SSHClient()
    client.load_host_keys(str(fleet.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        "127.0.0.1", port=port, username=fleet.user, key_filename=str(fleet.key_file), look_for_keys=False
    )
    dest = f"{fleet.root}/floor/web"
    release = f"{dest}/releases/{rev}"
    sftp = client.open_sftp()
    for path in (f"{fleet.root}/floor", dest, f"{dest}/releases", release):
        try:
            sftp.stat(path)
        except FileNotFoundError:
            sftp.mkdir(path)
    for name, data in files.items():
        with sftp.open(f"{release}/{name}", "wb") as f:
            f.set_pipelined(True)
            f.write(data)
    sftp.symlink(f"releases/{rev}", f"{dest}/.current.tmp")
    sftp.posix_rename(f"{dest}/.current.tmp", f"{dest}/current")
    for command in (f"echo {rev} >> {fleet.root}/floor/deploys", f"test -f {dest}/current/index.html"):
        _, stdout, _ = client.exec_command(command)
        assert stdout.channel.recv_exit_status() == 0, command
    sftp.close()
    client.close()


def floor(fleet: SshFleet, n: int, repo: Path, rev: str) -> float:
    files = {p.name: p.read_bytes() for p in (repo / "web").iterdir()}
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        for f in [pool.submit(floor_host, fleet, h.port, files, rev) for h in fleet.hosts[:n]]:
            f.result()
    return time.perf_counter() - started


def ansible(fleet: SshFleet, n: int, repo: Path, rev: str, work: Path, binary: str) -> float:
    inventory = ansible_tool.inventory(fleet, n, work / f"inventory-{n}.ini")
    dest = f"{fleet.root}/ansible/web"
    playbook = work / "playbook.yml"
    playbook.write_text(
        f"""- hosts: fleet
  gather_facts: false
  tasks:
    - file: {{path: "{dest}/releases/{{{{ rev }}}}", state: directory}}
    - copy: {{src: "{repo}/web/", dest: "{dest}/releases/{{{{ rev }}}}/"}}
    - file: {{src: "releases/{{{{ rev }}}}", dest: "{dest}/current", state: link, force: true}}
    - shell: "echo {{{{ rev }}}} >> {fleet.root}/ansible/deploys"
    - command: "test -f {dest}/current/index.html"
"""
    )
    env = ansible_tool.environment(n)
    started = time.perf_counter()
    proc = subprocess.run(
        [binary, "-i", str(inventory), str(playbook), "-e", f"rev={rev}"],
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"ansible-playbook failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


async def main(runs: int) -> None:
    reason = missing_tools()
    if reason:
        print(f"ssh_fleet: skipped: {reason}")
        return
    work = Path(tempfile.mkdtemp(prefix="lockstep-bench-ssh-"))
    found = ansible_tool.ansible_playbook(install=True)
    binary = found.binary
    with running_fleet(work / "fleet", max(SIZES)) as fleet:
        for i in range(len(fleet.hosts)):
            fleet.sh(i, f"mkdir -p {fleet.root}/lockstep {fleet.root}/ansible {fleet.root}/floor")
        repo = work / "bench-app"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "lockstep.yaml").write_text(manifest(fleet.root))
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_binary(),
            search_attributes=list(sa.ALL),
            data_converter=pydantic_data_converter,
            dev_server_database_filename=str(work / "temporal.db"),
            dev_server_extra_args=sqlite_pragma_args(),
        )
        settings = Settings(
            temporal={"address": env.client.service_client.config.target_host, "task_queue": "bench-ssh"},
            database_url=f"sqlite:///{work / 'lockstep.db'}",
            state_dir=str(work / "state"),
            repositories=[{"url": str(repo)}],
            targets={
                f"fleet-{n}": fleet.target(hosts=[h.address for h in fleet.hosts[:n]], batch=n) for n in SIZES
            },
        )
        store, mirrors = Store.from_url(settings.database_url), GitMirrors(settings.mirrors_dir)
        timings: dict[str, dict[int, list[float]]] = {"lockstep": {}, "ansible": {}, "floor": {}}
        try:
            async with build_worker(env.client, settings):
                for rev in range(runs + 1):  # round 0 warms caches and is not counted
                    new_revision(repo, rev)
                    for n in SIZES:
                        started = time.perf_counter()
                        deployment = await start_deployment(
                            client=env.client,
                            settings=settings,
                            store=store,
                            git=mirrors,
                            application="bench",
                            environment=f"n{n}",
                        )
                        handle = env.client.get_workflow_handle(deployment.id, result_type=DeploymentResult)
                        result = await handle.result()
                        lockstep_s = time.perf_counter() - started
                        assert result.status == DeploymentStatus.SUCCEEDED, result.error
                        tag = f"r{rev}-{uuid.uuid4().hex[:6]}"
                        floor_s = floor(fleet, n, repo, tag)
                        ansible_s = ansible(fleet, n, repo, tag, work, binary) if binary else None
                        if rev:
                            timings["lockstep"].setdefault(n, []).append(lockstep_s)
                            timings["floor"].setdefault(n, []).append(floor_s)
                            if ansible_s is not None:
                                timings["ansible"].setdefault(n, []).append(ansible_s)
        finally:
            await env.shutdown()
    report(timings, runs, found.why_not)
    sys.stdout.flush()
    os._exit(0)  # the SDK can abort at interpreter exit (sdk-python#300)


def report(timings: dict[str, dict[int, list[float]]], runs: int, why_not_ansible: str) -> None:
    def med(kind: str, n: int) -> float | None:
        values = timings[kind].get(n)
        return statistics.median(values) if values else None

    print(f"ssh_fleet: {FILES + 1} files, 1 deploy command, 1 check per host; median of {runs} runs")
    print(f"  {'hosts':>5}  {'lockstep':>9}  {'ansible':>9}  {'floor':>9}  {'L/ansible':>9}  {'L/floor':>8}")
    for n in SIZES:
        lockstep, ans, flo = med("lockstep", n), med("ansible", n), med("floor", n)
        assert lockstep is not None and flo is not None
        ans_text = f"{ans:8.2f}s" if ans is not None else "        -"
        ratio_ans = f"{lockstep / ans:9.2f}" if ans else "        -"
        print(f"  {n:>5}  {lockstep:8.2f}s  {ans_text}  {flo:8.2f}s  {ratio_ans}  {lockstep / flo:8.2f}")
    print("  targets at 10 hosts: L/ansible <= 0.1, L/floor <= 1.5")
    if why_not_ansible:
        print(f"  ansible: skipped: {why_not_ansible}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.runs))
