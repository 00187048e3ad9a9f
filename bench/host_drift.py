"""Benchmark: finding host drift on 10 real sshd hosts x 200 files, Lockstep against Ansible (issue 16).

One application with one `host` component of FILES files on an `ssh` target of HOSTS loopback
sshd hosts with their own files (tests/support/sshd.py; needs root and openssh-server). It is
seeded as a deployment leaves it, without Temporal: a deployment row, the component applied
through the real deliverer (`HostDeliverer.apply`: a staged release and the `current` switch on
every host, the journal), its revision recorded and the deployment marked succeeded.

Then files are changed by hand on some hosts (two edited on every third host, one deleted on the
last) and the same question is asked of both (Lockstep `--runs` times, Ansible `--ansible-runs`
times each way: once by default, as it takes minutes at full size):

- Lockstep: `sweep_environment` of the environment with a fresh renderer (a fresh Git mirror read,
  no render cache), connecting to every host as the scheduled sweep does.
- Ansible: `ansible-playbook --check --diff` copying the same files (the repository's folder) to
  each host's live release (`<dest>/current/`), forks = hosts, pipelining on, two ways: a `copy`
  task looping over the files (it names each file that differs) and one `copy` of the folder (the
  idiomatic task, which stats every file as well but names only the hosts that differ). ansible-core
  comes from `bench/ansible_tool.py` (installed into a virtualenv of its own under the cache folder
  when it is nowhere); without it the reason is printed, and Lockstep's figures still are.

Prints the median seconds of each, the ratios Lockstep / Ansible (target <= 0.1, against the
faster form) and, per tool, the drift it reported against what was planted (found/expected:
files, or hosts for the folder copy; exact or not). Asserts nothing about time. Run from the
repository root as root: `PYTHONPATH=. .venv/bin/python bench/host_drift.py [--hosts 10]
[--files 200] [--runs 3] [--ansible-runs 1] [--quick]`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ansible_tool
from lockstep.delivery.deliverer import DeliveryContext
from lockstep.domain.drift import EnvironmentDrift
from lockstep.domain.status import DeploymentStatus
from lockstep.drift.parts import sweep_parts
from lockstep.drift.sweep import sweep_environment
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.revisions import record_revisions
from tests.support.apprepo import commit
from tests.support.policies import open_window_bundle
from tests.support.sshd import SshFleet, missing_tools, running_fleet

APP, ENV, COMPONENT = "fleetapp", "prod", "web"
TARGET_RATIO = 0.1
Planted = set[tuple[str, str]]  # (host label, file as the manifest maps it)


def manifest(dest: str) -> str:
    return (
        f"application: {APP}\nenvironments:\n  - name: {ENV}\n    branch: main\n"
        f"    targets: {{vms: fleet}}\ncomponents:\n  - name: {COMPONENT}\n    target: vms\n"
        f"    host:\n      files: [{{src: web/, dest: {dest}}}]\n"
    )


def file_name(i: int) -> str:
    return f"file{i:03}.conf"


def app_files(dest: str, files: int) -> dict[str, str | None]:
    content: dict[str, str | None] = {"lockstep.yaml": manifest(dest)}
    for i in range(files):
        content[f"web/{file_name(i)}"] = f"# file {i}\n" + "".join(
            f"key{k} = value {i}.{k}\n" for k in range(40)
        )
    return content


class Bench:
    """The fleet, the application's repository and the store of one run."""

    def __init__(self, work: Path, fleet: SshFleet, hosts: int, files: int) -> None:
        self.work, self.fleet, self.hosts, self.files = work, fleet, hosts, files
        self.dest = f"{fleet.root}/srv/web"
        self.repo = work / "repo"
        commit(self.repo, app_files(self.dest, files), "first version")
        self.settings = Settings(
            database_url=f"sqlite:///{work / 'lockstep.db'}",
            state_dir=str(work / "state"),
            repositories=[{"url": str(self.repo)}],
            targets={"fleet": fleet.target(hosts=[h.address for h in fleet.hosts[:hosts]], batch=hosts)},
            policy={"engine": "embedded", "path": str(open_window_bundle(work / "policies"))},
        )
        self.store = Store.from_url(self.settings.database_url)
        self.labels = [h.address for h in fleet.hosts[:hosts]]  # host_label of 127.0.0.1:<port>

    def deploy(self) -> str:
        """What a successful deployment of the head commit leaves on the hosts and in the store."""
        for i in range(self.hosts):
            self.fleet.sh(i, f"mkdir -p {self.fleet.root}/srv")
        parts = sweep_parts(self.settings, self.store, GitMirrors(self.settings.mirrors_dir))
        repository = str(self.repo)
        sha = parts.renderer.resolve(repository, "main")
        rendered = parts.renderer.render(repository, sha, ENV)
        deployment_id = f"{APP}-{ENV}-1"
        self._record(deployment_id, sha, "deploying")
        context = DeliveryContext(
            deployment_id=deployment_id, application=APP, environment=ENV, repository=repository, commit=sha
        )
        for component in rendered.components.values():
            parts.deliverers.for_kind(component.kind).apply(context, component)
        with self.store.session() as session:
            hashes = {name: c.content_hash for name, c in rendered.components.items()}
            record_revisions(
                session=session, application=APP, environment=ENV, deployment_id=deployment_id,
                commit=sha, hashes=hashes,
            )  # fmt: skip
        self._record(deployment_id, sha, DeploymentStatus.SUCCEEDED.value)
        return sha

    def _record(self, deployment_id: str, sha: str, status: str) -> None:
        with self.store.session() as session:
            upsert_deployment(
                session=session, id=deployment_id, application=APP, environment=ENV, commit=sha,
                repository=str(self.repo), trigger="manual", actor="bench", status=status,
            )  # fmt: skip

    def drift(self) -> Planted:
        """Two files edited on every third host, one deleted on the last host: what was changed."""
        planted: Planted = set()
        live = f"{self.dest}/current"
        for i in range(0, self.hosts, 3):
            for n in ((i * 13) % self.files, (i * 13 + 5) % self.files):
                self.fleet.sh(i, f"echo 'edited by hand' >> {live}/{file_name(n)}")
                planted.add((self.labels[i], f"{self.dest}/{file_name(n)}"))
        last = self.hosts - 1
        gone = file_name(self.files - 1)
        self.fleet.sh(last, f"rm {live}/{gone}")
        planted.add((self.labels[last], f"{self.dest}/{gone}"))
        return planted

    def sweep(self, now: datetime) -> tuple[float, EnvironmentDrift]:
        """One sweep with fresh parts (module docstring): seconds, and what it recorded."""
        started = time.perf_counter()
        parts = sweep_parts(self.settings, self.store, GitMirrors(self.settings.mirrors_dir))
        view = sweep_environment(
            store=self.store, renderer=parts.renderer, deliverers=parts.deliverers, policy=parts.policy,
            application=APP, environment=ENV, repository=str(self.repo), now=now,
        )  # fmt: skip
        return time.perf_counter() - started, view


def lockstep_found(view: EnvironmentDrift) -> tuple[Planted, list[str]]:
    """The host files the sweep reports, and anything else it said (should be nothing)."""
    found: Planted = set()
    other = [f"unknown: {view.reason}"] if view.state == "unknown" else []
    for item in view.items:
        if item.resolved_at is not None:
            continue
        if item.kind in ("modified", "missing") and not item.path.endswith("/current"):
            found.add((item.host or "", item.path))
        else:
            other.append(f"{item.kind} {item.host} {item.path}")
    return found, other


# The two ways of asking Ansible: a task per file (a loop: it names each file that differs) and
# the idiomatic one copy of the folder (it stats every file too, but names only the hosts).
FORMS = {
    "file loop": (
        '    - copy: {{src: "{{{{ item }}}}", dest: "{live}/{{{{ item | basename }}}}"}}\n'
        "      loop: \"{{{{ query('fileglob', '{src}/*') | sort }}}}\"\n"
    ),
    "folder copy": '    - copy: {{src: "{src}/", dest: "{live}/"}}\n',
}
_CHANGED = re.compile(r"^changed: \[h(\d+)\]( => \(item=(.+)\))?$", re.MULTILINE)


def ansible_check(bench: Bench, binary: str, form: str) -> tuple[float, Planted]:
    """One `ansible-playbook --check --diff` in `form` (FORMS): seconds, and what it says would
    change: (host, file) per `changed: [h<i>] => (item=<src>)` line, (host, "") per host for the
    folder copy, which names no files."""
    inventory = ansible_tool.inventory(bench.fleet, bench.hosts, bench.work / "inventory.ini")
    playbook = bench.work / "check.yml"
    task = FORMS[form].format(src=f"{bench.repo}/web", live=f"{bench.dest}/current")
    playbook.write_text(f"- hosts: fleet\n  gather_facts: false\n  tasks:\n{task}")
    env = ansible_tool.environment(bench.hosts) | {"ANSIBLE_NOCOLOR": "1"}
    started = time.perf_counter()
    proc = subprocess.run(
        [binary, "-i", str(inventory), str(playbook), "--check", "--diff"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"ansible-playbook failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    changed = {
        (bench.labels[int(m.group(1))], f"{bench.dest}/{Path(m.group(3)).name}" if m.group(3) else "")
        for m in _CHANGED.finditer(proc.stdout)
    }
    return elapsed, changed


def verdict(found: Planted, expected: Planted, unit: str = "files") -> str:
    if found == expected:
        return f"{len(found & expected)}/{len(expected)} {unit} (exact)"
    return (
        f"{len(found & expected)}/{len(expected)} {unit} (WRONG: missed {sorted(expected - found)[:3]}, "
        f"extra {sorted(found - expected)[:3]})"
    )


def run(hosts: int, files: int, runs: int, ansible_runs: int) -> None:
    reason = missing_tools()
    if reason:
        print(f"host_drift: skipped: {reason}")
        return
    found_ansible = ansible_tool.ansible_playbook(install=True)
    with tempfile.TemporaryDirectory(prefix="host-drift-bench-") as tmp:
        work = Path(tmp)
        with running_fleet(work / "fleet", hosts) as fleet:
            bench = Bench(work, fleet, hosts, files)
            bench.deploy()
            expected = bench.drift()
            print(f"host_drift: {hosts} hosts x {files} files, {len(expected)} files changed by hand")
            now = datetime.now(UTC)
            lockstep: list[float] = []
            for n in range(runs):
                seconds, view = bench.sweep(now + timedelta(seconds=n))
                lockstep.append(seconds)
                found, other = lockstep_found(view)
            ansible: dict[str, tuple[list[float], Planted]] = {}
            for form in FORMS if found_ansible.binary else ():
                assert found_ansible.binary is not None
                times: list[float] = []
                for _ in range(ansible_runs):
                    seconds, changed = ansible_check(bench, found_ansible.binary, form)
                    times.append(seconds)
                ansible[form] = (times, changed)
            report(lockstep, {form: times for form, (times, _) in ansible.items()})
            print(f"  {'drift found by lockstep:':<39} {verdict(found, expected)}")
            for line in other[:5]:
                print(f"    unexpected: {line}")
            if not found_ansible.binary:
                print(f"  ansible: skipped: {found_ansible.why_not}")
            for form, (_, changed) in ansible.items():
                if form == "folder copy":
                    hosts_only = {(host, "") for host, _ in expected}
                    told = f"{verdict(changed, hosts_only, 'hosts')}, names no files"
                else:
                    told = verdict(changed, expected)
                print(f"  {f'drift found by ansible ({form}):':<39} {told}")


def report(lockstep: list[float], ansible: dict[str, list[float]]) -> None:
    mine = statistics.median(lockstep)
    runs_text = ", ".join(f"{s:.2f}" for s in lockstep)
    print(f"  lockstep sweep_environment:            {mine:8.2f} s  (median of {len(lockstep)}: {runs_text})")
    for form, times in ansible.items():
        theirs = statistics.median(times)
        runs_text = ", ".join(f"{s:.2f}" for s in times)
        label = f"ansible --check --diff ({form}):"
        print(
            f"  {label:<38} {theirs:8.2f} s  (median of {len(times)}: {runs_text}); "
            f"lockstep / ansible {mine / theirs:.4f}"
        )
    if ansible:
        fastest = min(statistics.median(times) for times in ansible.values())
        met = "met" if mine / fastest <= TARGET_RATIO else "NOT met"
        print(f"  lockstep / fastest ansible: {mine / fastest:.4f}  (target <= {TARGET_RATIO}: {met})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="timed sweeps (the median is printed)")
    parser.add_argument("--ansible-runs", type=int, default=1, help="ansible-playbook passes (minutes each)")
    parser.add_argument("--quick", action="store_true", help="2 hosts x 20 files, one pass")
    args = parser.parse_args()
    if args.quick:
        args.hosts, args.files, args.runs, args.ansible_runs = 2, 20, 1, 1
    run(args.hosts, args.files, args.runs, args.ansible_runs)


if __name__ == "__main__":
    main()
