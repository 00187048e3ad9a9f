"""kmock's emulator (tests/support/kube.py) served from a process of its own, for benchmarks.

A real API server runs apart from its clients. Served in the benchmark's own interpreter, the
emulator would share the GIL with the code being timed: each request would wait for the other's
turn (up to the interpreter's 5 ms switch interval, per socket read) and the two would never run
at once on two cores, so the figures would measure the harness. `ClusterProcess` starts the
emulator in a child process and talks to it over a pipe: its URL (and a kubeconfig target for
it), how many requests it has served, the CPU seconds and peak memory of its process, merge patches applied
to live objects as another field manager would (`kubectl scale`, an edit), and a stand-in
Deployment controller switched on while applications are seeded (`rolling_out`).

The emulator counts requests instead of keeping them (`CountingEmulator`): kmock matches every
request against every request recorded so far, which would make the emulator, not the sweep,
quadratic.
"""

from __future__ import annotations

import multiprocessing
import resource
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp.web
from kmock._internal import rendering

from tests.support.kube import EXTRA_RESOURCES, ApplyingEmulator, EmulatedCluster, rolled_out

ROLL_EVERY = 0.05  # seconds between the stand-in controller's rounds


class CountingEmulator(ApplyingEmulator):
    """The tests' emulator, counting requests instead of keeping them (module docstring)."""

    served = 0

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        self.served += 1
        del self._requests[:-1]  # the filters look for the request being served among them
        return await super()._handle(request)


class ClusterProcess:
    """The emulator in a child process (module docstring); a context manager."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True, name="kmock")
        self.url = ""

    def __enter__(self) -> ClusterProcess:
        self._process.start()
        self.url = self._conn.recv()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._ask("stop")
        self._process.join(timeout=30)

    def target(self, kubeconfig: Path, *, namespace: str) -> dict[str, str]:
        """A `kubernetes` target of the server config, pointing at the emulator."""
        cluster = EmulatedCluster()  # only for its kubeconfig; never started
        cluster.url = self.url
        return cluster.target(kubeconfig, namespace=namespace)

    def patch(self, resource: str, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """Merge `patch` into the live object, as another field manager would."""
        self._ask("patch", resource, namespace, name, patch)

    def served(self) -> int:
        """Requests the emulator has received so far."""
        return int(self._ask("served"))

    def peak_rss(self) -> float:
        """The emulator process's peak resident memory, MiB."""
        return float(self._ask("rss"))

    def cpu(self) -> float:
        """CPU seconds the emulator's process has used so far."""
        return float(self._ask("cpu"))

    @contextmanager
    def rolling_out(self) -> Iterator[None]:
        """A stand-in Deployment controller, stopped before anything is timed."""
        self._ask("rollout", True)
        try:
            yield
        finally:
            self._ask("rollout", False)

    def _ask(self, op: str, *args: Any) -> Any:
        self._conn.send((op, args))
        return self._conn.recv()


def _serve(conn: Connection) -> None:
    """The child: serve the emulator until told to stop, answering the parent's questions."""
    cluster = EmulatedCluster()
    cluster.emulator = CountingEmulator()
    cluster.emulator.resources.load_bundled()
    for resource_name, info in EXTRA_RESOURCES.items():
        cluster.emulator.resources[resource_name] = info
    cluster.start()
    conn.send(cluster.url)
    server = _Server(cluster)
    try:
        while True:
            op, args = conn.recv()
            conn.send(getattr(server, op)(*args))
            if op == "stop":
                return
    finally:
        server.stop()
        cluster.stop()


class _Server:
    """What the parent can ask the child (`ClusterProcess._ask`), one method per question."""

    def __init__(self, cluster: EmulatedCluster) -> None:
        self._cluster = cluster
        self._rolling: Callable[[], None] | None = None

    def served(self) -> int:
        emulator = self._cluster.emulator
        return emulator.served if isinstance(emulator, CountingEmulator) else 0

    def cpu(self) -> float:
        return time.process_time()

    def rss(self) -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any]) -> None:
        objects = self._cluster.emulator.objects
        self._cluster.call(lambda: objects[plural, namespace, name].patch(patch))

    def rollout(self, on: bool) -> None:
        self.stop()
        if on:
            self._rolling = _start_controller(self._cluster)

    def stop(self) -> None:
        if self._rolling is not None:
            self._rolling()
            self._rolling = None


def _start_controller(cluster: EmulatedCluster) -> Callable[[], None]:
    """Roll out every Deployment whose latest generation is not observed yet, until the function
    returned is called (it returns once the controller has stopped)."""
    done = threading.Event()

    def roll() -> None:
        for (res, _namespace, _name), obj in list(cluster.emulator.objects.items()):
            if obj.deleted or res.plural != "deployments":
                continue
            raw: dict[str, Any] = obj.raw
            generation = raw["metadata"].get("generation", 1)
            if (raw.get("status") or {}).get("observedGeneration") != generation:
                obj.patch({"status": rolled_out(raw["spec"].get("replicas", 1), generation)})

    def run() -> None:
        while not done.wait(ROLL_EVERY):
            cluster.call(roll)

    thread = threading.Thread(target=run, daemon=True, name="rollout")
    thread.start()

    def stop() -> None:
        done.set()
        thread.join()

    return stop
