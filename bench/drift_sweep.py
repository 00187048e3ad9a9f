"""Benchmark: the drift sweep over 1,000, 5,000 and 10,000 Kubernetes objects (issue 16).

N applications (N = objects / 50), each in a Git repository of its own with one environment and
two `kubernetes` components on one cluster: `config` (48 ConfigMaps) and `web` (2 Deployments).
The cluster is kmock's emulator taught server-side apply (tests/support/kube.py), served on
loopback from a process of its own (bench/cluster_process.py), as a real API server runs apart
from its clients. Each application is seeded as a deployment leaves it, without Temporal:
a deployment row, every component applied through the real deliverer (`KubernetesDeliverer.apply`:
server-side apply, the write-ahead inventory, health; a stand-in controller rolls Deployments
out meanwhile), then its revisions recorded and the deployment marked succeeded. Sizes are nested:
the applications of the smaller size stay and more are added.

Then one field per 100 objects is changed behind Lockstep's back (a ConfigMap's value, or a
Deployment's replicas) and `sweep_environment` runs over every environment, first one after the
other with a fresh renderer (Git mirrors on disk, no render cache), then on a pool of 4 threads as
the sweep workflow fans out. Every environment of a pass is swept with `since` set to when the
pass began, as the sweep workflow passes when it began: the environments share one LIST per
(kind, namespace) of the cluster (`lockstep.delivery.kube_listings`). Each pass must report
exactly the changed objects (found/expected).

Prints, per size and pass: seconds, seconds per object, objects per second, API requests (server
round trips) per object (what the emulator received during the pass), the CPU seconds of the
sweeping threads and of the emulator's process, then the peak RSS of this process and of the
emulator's. Asserts nothing about time.

Measured on the 2-core machine the project runs on (shared with other work, so wall times vary
with its load), sequential / pool of 4:

| objects | before: a GET and a dry run per object | now |
|---|---|---|
| 1,000 | 7.3 s, 2.00 requests/object | 1.7 s / 1.6 s, 0.01 requests/object |
| 5,000 | 77 s | 10.0 s / 8.7 s, 0.01 requests/object |
| 10,000 | 225 s (target: < 30 s) | 21.4 s / 17.8 s, 0.01 requests/object, 100/100 found |

Now the sweep's own CPU is about 1.4 ms per object, whatever the size (most of it rendering the
revisions from Git: a fresh renderer per pass), and the emulator's about 0.2 ms per object.
Before, the emulator answered each GET by scanning every object it held, and the sweep asked it
two requests per object.

Run from the repository root: `PYTHONPATH=. .venv/bin/python bench/drift_sweep.py
[--sizes 1000,5000,10000] [--quick]`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster_process import ClusterProcess
from lockstep.delivery.deliverer import DeliveryContext
from lockstep.domain.drift import EnvironmentDrift
from lockstep.domain.status import DeploymentStatus
from lockstep.drift.parts import SweepParts, sweep_parts
from lockstep.drift.sweep import environments_to_sweep, sweep_environment
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.revisions import record_revisions
from tests.support.apprepo import commit
from tests.support.policies import open_window_bundle

OBJECTS_PER_APP = 50
DEPLOYMENTS_PER_APP = 2
DRIFT_EVERY = 100  # objects: one changed field per this many
POOL = 4
TARGET_OBJECTS, TARGET_SECONDS = 10_000, 30.0
NAMESPACE = "bench"
CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{value: '{i}', app: {app}}}\n"
)
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: c, image: "weaveworksdemos/catalogue:0.3.5"}}]}}
"""


def manifest(app: str) -> str:
    health = "    health: {timeout: 30s, interval: 100ms}\n"
    return (
        f"application: {app}\nenvironments:\n  - name: prod\n    branch: main\n"
        "    targets: {cluster: k8s-bench}\ncomponents:\n"
        f"  - name: config\n    target: cluster\n    kubernetes: {{manifests: k8s/config/}}\n{health}"
        f"  - name: web\n    target: cluster\n    kubernetes: {{manifests: k8s/web/}}\n{health}"
    )


def app_files(app: str) -> dict[str, str | None]:
    files: dict[str, str | None] = {"lockstep.yaml": manifest(app)}
    for i in range(OBJECTS_PER_APP - DEPLOYMENTS_PER_APP):
        files[f"k8s/config/cm{i:02}.yaml"] = CONFIGMAP.format(name=f"{app}-cm{i:02}", i=i, app=app)
    for i in range(DEPLOYMENTS_PER_APP):
        files[f"k8s/web/deploy{i}.yaml"] = DEPLOYMENT.format(name=f"{app}-web{i}")
    return files


class Fleet:
    """The applications, their repositories, the store and the cluster of one benchmark run."""

    def __init__(self, work: Path, cluster: ClusterProcess) -> None:
        self.work = work
        self.cluster = cluster
        self.repos: dict[str, str] = {}  # application -> repository path
        self.settings = self._settings([])
        self.store = Store.from_url(self.settings.database_url)
        self.git = GitMirrors(self.settings.mirrors_dir)

    def _settings(self, repositories: list[str]) -> Settings:
        return Settings(
            database_url=f"sqlite:///{self.work / 'lockstep.db'}",
            state_dir=str(self.work / "state"),
            repositories=[{"url": url} for url in repositories],
            targets={"k8s-bench": self.cluster.target(self.work / "kubeconfig", namespace=NAMESPACE)},
            policy={"engine": "embedded", "path": str(self.work / "policies")},
        )

    def grow(self, apps: int) -> None:
        """Create and deploy applications until there are `apps` of them."""
        names = [f"app{i:03}" for i in range(len(self.repos), apps)]
        for name in names:
            repo = self.work / "repos" / name
            commit(repo, app_files(name), "first version")
            self.repos[name] = str(repo)
        self.settings = self._settings(list(self.repos.values()))
        parts = sweep_parts(self.settings, self.store, self.git)
        with self.cluster.rolling_out():
            for name in names:
                self._deploy(parts, name)

    def _deploy(self, parts: SweepParts, app: str) -> None:
        """What a successful deployment of the application's head leaves in the store and on the
        cluster (module docstring)."""
        repository = self.repos[app]
        sha = parts.renderer.resolve(repository, "main")
        rendered = parts.renderer.render(repository, sha, "prod")
        deployment_id = f"{app}-prod-1"
        with self.store.session() as session:
            self._record(session, app, deployment_id, sha, "deploying")
        context = DeliveryContext(
            deployment_id=deployment_id,
            application=app,
            environment="prod",
            repository=repository,
            commit=sha,
        )
        for component in rendered.components.values():
            parts.deliverers.for_kind(component.kind).apply(context, component)
        with self.store.session() as session:
            hashes = {name: c.content_hash for name, c in rendered.components.items()}
            record_revisions(
                session=session, application=app, environment="prod", deployment_id=deployment_id,
                commit=sha, hashes=hashes,
            )  # fmt: skip
            self._record(session, app, deployment_id, sha, DeploymentStatus.SUCCEEDED.value)

    def _record(self, session: Session, app: str, deployment_id: str, sha: str, status: str) -> None:
        upsert_deployment(
            session=session, id=deployment_id, application=app, environment="prod", commit=sha,
            repository=self.repos[app], trigger="manual", actor="bench", status=status,
        )  # fmt: skip

    def drift(self) -> set[str]:
        """Change one field per DRIFT_EVERY objects, as another field manager would; the objects
        (`Kind/namespace/name`) changed."""
        changed: set[str] = set()
        for i, app in enumerate(sorted(self.repos)):
            if i * OBJECTS_PER_APP % DRIFT_EVERY >= OBJECTS_PER_APP:
                continue
            patch: dict[str, Any]
            if i % 4 == 0:
                resource_, name, obj = "apps/v1/deployments", f"{app}-web0", "Deployment"
                patch = {"spec": {"replicas": 5}}
            else:
                resource_, name, obj = "v1/configmaps", f"{app}-cm07", "ConfigMap"
                patch = {"data": {"value": "by hand"}}
            self.cluster.patch(resource_, NAMESPACE, name, patch)
            changed.add(f"{obj}/{NAMESPACE}/{name}")
        return changed

    def requests(self) -> int:
        """How many requests the emulator has received so far."""
        return self.cluster.served()

    def emulator_cpu(self) -> float:
        """CPU seconds the emulator's process (the whole API server) has used."""
        return self.cluster.cpu()


@dataclass(frozen=True)
class Pass:
    """One sweep of every environment: wall seconds, API requests, CPU seconds of the sweeping
    threads and of the emulator's process, and what each environment's sweep recorded."""

    seconds: float
    requests: int
    sweep_cpu: float
    emulator_cpu: float
    views: list[EnvironmentDrift]


def sweep_all(fleet: Fleet, workers: int) -> Pass:
    """Sweep every environment on `workers` threads."""
    parts = sweep_parts(fleet.settings, fleet.store, fleet.git)  # a fresh renderer: no render cache
    environments = environments_to_sweep(fleet.store)
    now = datetime.now(UTC)

    cpu: list[float] = []

    def one(env: tuple[str, str, str]) -> EnvironmentDrift:
        application, environment, repository = env
        started = time.thread_time()
        try:
            return sweep_environment(
                store=fleet.store, renderer=parts.renderer, deliverers=parts.deliverers, policy=parts.policy,
                application=application, environment=environment, repository=repository, now=now,
                since=now,  # as the sweep workflow passes when it began
            )  # fmt: skip
        finally:
            cpu.append(time.thread_time() - started)

    before, emulator_before = fleet.requests(), fleet.emulator_cpu()
    started = time.perf_counter()
    if workers == 1:
        views = [one(env) for env in environments]
    else:
        with ThreadPoolExecutor(workers) as pool:
            views = list(pool.map(one, environments))
    seconds = time.perf_counter() - started
    return Pass(seconds, fleet.requests() - before, sum(cpu), fleet.emulator_cpu() - emulator_before, views)


def report(objects: int, label: str, done: Pass, expected: set[str]) -> None:
    found, other = drifted_objects(done.views)
    seconds = done.seconds
    verdict = "exact" if found == expected else f"WRONG: missed {expected - found}, extra {found - expected}"
    print(
        f"  {label:<12} {seconds:7.2f} s  {seconds / objects * 1000:6.2f} ms/object  "
        f"{objects / seconds:7.0f} objects/s  {done.requests / objects:5.2f} requests/object  "
        f"drift found {len(found)}/{len(expected)} ({verdict})"
    )
    print(
        f"  {'':<12} CPU: sweep threads {done.sweep_cpu:.2f} s "
        f"({done.sweep_cpu / objects * 1000:.2f} ms/object), emulator {done.emulator_cpu:.2f} s"
    )
    for line in other[:5]:
        print(f"    unexpected: {line}")
    if objects == TARGET_OBJECTS:
        met = "met" if seconds < TARGET_SECONDS else "NOT met"
        print(f"  target {TARGET_OBJECTS} objects in < {TARGET_SECONDS:.0f} s ({label}): {met}")


def drifted_objects(views: list[EnvironmentDrift]) -> tuple[set[str], list[str]]:
    """The objects the sweep reported as modified, and anything else it said (should be nothing)."""
    found: set[str] = set()
    other: list[str] = []
    for view in views:
        if view.state == "unknown":
            other.append(f"{view.application}: unknown: {view.reason}")
        for item in view.items:
            if item.kind == "modified" and item.resolved_at is None:
                found.add(item.object)
            elif item.resolved_at is None:
                other.append(f"{item.kind} {item.object} {item.path}")
    return found, other


def run(sizes: list[int], progress: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp, ClusterProcess() as cluster:
        work = Path(tmp)
        open_window_bundle(work / "policies")
        fleet = Fleet(work, cluster)
        print(
            f"drift_sweep: {OBJECTS_PER_APP} objects per application, one changed field per {DRIFT_EVERY}; "
            "requests: round trips to the API server"
        )
        for objects in sizes:
            apps = max(1, objects // OBJECTS_PER_APP)
            started = time.perf_counter()
            fleet.grow(apps)
            expected = fleet.drift()
            objects = apps * OBJECTS_PER_APP
            progress(f"seeded {apps} applications in {time.perf_counter() - started:.1f} s")
            print(f"{objects} objects ({apps} applications):")
            for label, workers in (("sequential", 1), (f"pool of {POOL}", POOL)):
                report(objects, label, sweep_all(fleet, workers), expected)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        emulator = cluster.peak_rss()
        print(f"peak RSS {peak:.0f} MiB (the sweep), {emulator:.0f} MiB (the emulator and its objects)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,10000", help="total objects, comma-separated")
    parser.add_argument("--quick", action="store_true", help="one small size (200 objects)")
    parser.add_argument("--verbose", action="store_true", help="say how long seeding took")
    args = parser.parse_args()
    sizes = [200] if args.quick else sorted(int(s) for s in args.sizes.split(","))
    run(sizes, (lambda m: print(f"  ({m})", file=sys.stderr)) if args.verbose else (lambda _m: None))


if __name__ == "__main__":
    main()
