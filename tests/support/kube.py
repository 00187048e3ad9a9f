"""A Kubernetes API for tests: kmock's KubernetesEmulator, taught server-side apply, on a loopback
port in a thread of its own.

kmock 0.8 stores objects as plain JSON and answers PATCH only for objects that exist. A real
API server creates the object on an apply patch (`application/apply-patch+yaml`), so
`ApplyingEmulator` turns an apply of a missing object into a create, keeps `metadata.generation`
(bumped when `spec` changes, as the API server does) and gives new objects a `uid`. kmock also
ignores `dryRun=All` and stores a dry-run apply for real; `ApplyingEmulator` answers it with the
merged object and stores nothing, or, with `dry_run=False`, refuses it with 400 as a server whose
admission webhooks have side effects does. Like the API server, it folds a Secret's `stringData`
into `data` (base64) and refuses a DELETE whose preconditions (`uid`, `resourceVersion`) do not
match the live object with 409. It finds the object a GET, PATCH or DELETE names by its key, as
the API server does (kmock scans every object it holds, so each such request would cost as much
as listing the whole cluster); the answers are kmock's. A LIST honours `labelSelector`
(equality and existence terms), `limit` and `continue`, which kmock ignores, and is refused with
403 when `listing` is off (credentials without `list`). Everything else — discovery, watch — is
kmock's own. The emulator runs its event loop in a background thread, because the
`kubernetes` client is synchronous and is called from test code and from activity threads alike.

No kube-apiserver can be installed on this machine, so this is as real as the tests get: the real
`kubernetes` client speaking HTTP to an emulated API, not a fake client.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp.web
import yaml
from kmock import KubernetesEmulator, Server
from kmock._internal import dicts, k8s_dicts, rendering
from kmock._internal.k8s import KubernetesError, KubernetesObjectNotFoundError

from lockstep.domain.kube_objects import ObjectRef

# Builtin resources kmock's bundled discovery may lack, plus one custom resource for tests.
EXTRA_RESOURCES: dict[str, Any] = {
    "example.com/v1/widgets": {
        "kind": "Widget",
        "namespaced": True,
        "singular": "widget",
        "verbs": {"get", "list", "patch", "delete", "create"},
    },
}


class ApplyingEmulator(KubernetesEmulator):
    """KubernetesEmulator with server-side apply creating missing objects and tracking generation."""

    dry_run = True  # False: refuse dry-run requests (400), as some real servers do
    listing = True  # False: refuse LIST (403), as RBAC does to credentials without `list`

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        is_apply = (
            request.method == "PATCH"
            and "apply-patch" in request.headers.get("Content-Type", "")
            and request.resource is not None
            and request.name is not None
            and isinstance(request.data, dict)
        )
        if is_apply and request.resource is not None and request.resource.plural == "secrets":
            _fold_string_data(request.data)
        if is_apply and "dryRun" in request.params:
            return await self._dry_run_apply(request)
        if request.method == "DELETE" and request.name is not None and isinstance(request.data, dict):
            refused = await self._refused_delete(request)
            if refused is not None:
                return refused
        if is_apply:
            key: Any = (request.resource, request.namespace, request.name)
            async with self._lock:
                data: dict[str, Any] = request.data
                meta = data.setdefault("metadata", {})
                if request.namespace:
                    meta["namespace"] = request.namespace
                if key not in self.objects or self.objects[key].deleted:
                    meta.update(uid=str(uuid.uuid4()), generation=1)
                    if key in self.objects:
                        self.objects[key].create(data)
                    else:
                        self.objects[key] = data
                else:
                    live = self.objects[key].raw
                    generation = int(live.get("metadata", {}).get("generation", 1))
                    changed = data.get("spec") != live.get("spec")
                    meta["generation"] = generation + 1 if changed else generation
                    meta["uid"] = live.get("metadata", {}).get("uid")
        return await super()._handle(request)

    # kmock finds the object a request names by scanning every object it holds, which makes each
    # GET, PATCH or DELETE cost as much as a LIST of the whole cluster. The API server looks it up
    # by its key; so do these (same answers, same 404).
    async def _serve_fetch(self, request: rendering.Request) -> rendering.Payload:
        async with self._lock:
            found = self._named(request, request.namespace, request.name)
        if found is None or found.deleted:
            raise KubernetesObjectNotFoundError()
        return found.raw

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        """kmock's LIST, with what it ignores: `labelSelector` (equality and existence terms),
        `limit` and `continue` (pages, in name order), and 403 when `listing` is off."""
        if not self.listing:
            raise KubernetesError(status=403, reason="Forbidden", message="cannot list (RBAC)")
        listed = await super()._serve_list(request)
        assert isinstance(listed, dict)
        wanted = _selector(request.params.get("labelSelector", ""))
        items = sorted(
            (i for i in listed["items"] if _matches(wanted, (i.get("metadata") or {}).get("labels") or {})),
            key=lambda i: (i["metadata"].get("namespace") or "", i["metadata"]["name"]),
        )
        start = int(request.params.get("continue") or 0)
        limit = int(request.params.get("limit") or 0) or len(items)
        more = start + limit < len(items)
        metadata = {"resourceVersion": "...", **({"continue": str(start + limit)} if more else {})}
        return {"metadata": metadata, "items": items[start : start + limit]}

    async def _serve_update(self, request: rendering.Request) -> rendering.Payload:
        return await self._last_of(request, request.namespace, request.name)

    async def _serve_delete(self, request: rendering.Request) -> rendering.Payload:
        return await self._last_of(request, request.namespace, request.name)

    async def _serve_create(self, request: rendering.Request) -> rendering.Payload:
        meta = (request.data or {}).get("metadata", {})
        return await self._last_of(
            request, request.namespace or meta.get("namespace"), request.name or meta.get("name")
        )

    async def _last_of(
        self, request: rendering.Request, namespace: str | None, name: str | None
    ) -> rendering.Payload:
        """The object's last state (`_handle` has just written it, or soft-deleted it)."""
        async with self._lock:
            found = self._named(request, namespace, name)
        if found is None:
            raise KubernetesObjectNotFoundError()
        return found.last.raw

    def _named(
        self, request: rendering.Request, namespace: str | None, name: str | None
    ) -> k8s_dicts.Object | None:
        key: Any = (request.resource, namespace, name)
        return self.objects[key] if key in self.objects else None  # noqa: SIM401 (no .get)

    async def _refused_delete(self, request: rendering.Request) -> aiohttp.web.StreamResponse | None:
        """409, as the API server answers, when a delete's preconditions (`uid`,
        `resourceVersion`) do not match the live object; None to let the delete go on."""
        wanted = (request.data or {}).get("preconditions") or {}
        key: Any = (request.resource, request.namespace, request.name)
        async with self._lock:
            found = self.objects[key] if key in self.objects else None  # noqa: SIM401 (no .get)
            meta = {} if found is None or found.deleted else dict(found.raw.get("metadata", {}))
        if not meta or all(meta.get(field) == value for field, value in wanted.items()):
            return None
        status = {"kind": "Status", "status": "Failure", "reason": "Conflict", "code": 409}
        message = f"Precondition failed: {wanted} does not match the object"
        return aiohttp.web.json_response({**status, "message": message}, status=409)

    async def _dry_run_apply(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        """What the apply would leave (kmock's JSON merge onto the live object), stored nowhere."""
        if not self.dry_run:
            status = {"kind": "Status", "status": "Failure", "reason": "BadRequest", "code": 400}
            message = "admission webhook does not support dry run"
            return aiohttp.web.json_response({**status, "message": message}, status=400)
        key: Any = (request.resource, request.namespace, request.name)
        data: dict[str, Any] = copy.deepcopy(request.data)
        async with self._lock:
            found = self.objects[key] if key in self.objects else None  # noqa: SIM401 (no .get)
            live = None if found is None or found.deleted else copy.deepcopy(dict(found.raw))
        if live is None:
            data.setdefault("metadata", {}).update(uid=str(uuid.uuid4()), generation=1)
            return aiohttp.web.json_response(data, status=201)
        return aiohttp.web.json_response(dict(dicts.patch_dict(live, data)))


def _selector(text: str) -> list[tuple[str, str, str | None]]:
    """A label selector's terms as (operator, key, value): `k=v`, `k==v`, `k!=v`, `k`, `!k`."""
    terms: list[tuple[str, str, str | None]] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append(("!=", key.strip(), value.strip()))
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            terms.append(("=", key.strip(), value.strip()))
        elif term.startswith("!"):
            terms.append(("!", term[1:].strip(), None))
        else:
            terms.append(("exists", term, None))
    return terms


def _matches(terms: list[tuple[str, str, str | None]], labels: dict[str, str]) -> bool:
    for operator, key, value in terms:
        if operator == "=" and labels.get(key) != value:
            return False
        if (operator == "!=" and labels.get(key) == value) or (operator == "!" and key in labels):
            return False
        if operator == "exists" and key not in labels:
            return False
    return True


def _fold_string_data(secret: dict[str, Any]) -> None:
    """What the API server does to a Secret it is given: `stringData` is written into `data`,
    base64-encoded, and never stored itself."""
    plain = secret.pop("stringData", None) or {}
    if plain:
        encoded = {k: base64.b64encode(str(v).encode()).decode() for k, v in plain.items()}
        secret["data"] = {**(secret.get("data") or {}), **encoded}


class EmulatedCluster:
    """An ApplyingEmulator served on 127.0.0.1 from a background event loop."""

    def __init__(self) -> None:
        self.emulator = ApplyingEmulator()
        self.emulator.resources.load_bundled()
        for resource, info in EXTRA_RESOURCES.items():
            self.emulator.resources[resource] = info
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="kmock")
        self._stop: asyncio.Event | None = None
        self._served: Future[None] | None = None

    def start(self) -> None:
        self._thread.start()
        ready: Future[str] = Future()
        self._served = asyncio.run_coroutine_threadsafe(self._serve(ready), self._loop)
        self.url = ready.result(timeout=30)

    async def _serve(self, ready: Future[str]) -> None:
        self._stop = asyncio.Event()
        async with self.emulator, Server(self.emulator) as server:
            ready.set_result(str(server.url).rstrip("/"))
            await self._stop.wait()

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._served is not None:
            self._served.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def call(self, fn: Any) -> Any:
        """Run `fn()` on the emulator's loop (objects are mutated there, under no other thread)."""

        async def run() -> Any:
            async with self.emulator._lock:
                return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def live(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            try:
                obj = self.emulator.objects[resource, namespace, name]
            except KeyError:
                return None
            return None if obj.deleted else dict(obj.raw)

        result: dict[str, Any] | None = self.call(read)
        return result

    def set_status(self, resource: str, namespace: str | None, name: str, status: dict[str, Any]) -> None:
        """What a controller would do: write `status` onto the live object."""
        self.call(lambda: self.emulator.objects[resource, namespace, name].patch({"status": status}))

    def kubeconfig(self, path: Path, *, context: str = "emulated", namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulated", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": "emulated", "user": "tester", "namespace": namespace},
                },
                {"name": "elsewhere", "context": {"cluster": "emulated", "user": "tester"}},
            ],
            "current-context": "elsewhere",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def target(self, kubeconfig: Path, *, namespace: str = "shop") -> dict[str, str]:
        """A `kubernetes` target of the server config, pointing at this cluster."""
        return {
            "type": "kubernetes",
            "kubeconfig": str(self.kubeconfig(kubeconfig)),
            "context": "emulated",
            "namespace": namespace,
        }


@contextmanager
def emulated_cluster() -> Iterator[EmulatedCluster]:
    cluster = EmulatedCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


class MemoryInventory:
    """An InventoryJournal kept in memory, for tests of the delivery without a store."""

    def __init__(self) -> None:
        self.created: dict[ObjectRef, bool] = {}
        self.applied_refs: list[ObjectRef] = []
        self.steps: dict[str, tuple[str, str | None]] = {}
        self.owned: set[ObjectRef] = set()

    def step_status(self, action: str, *, obj: str = "") -> str | None:
        found = self.steps.get(f"{action} {obj}" if obj else action)
        return found[0] if found else None

    def remember(
        self, entries: Sequence[tuple[ObjectRef, bool]], *, owned: Sequence[ObjectRef] = ()
    ) -> dict[ObjectRef, bool]:
        self.owned.update(r for r in owned if r not in self.created)
        return {ref: self.created.setdefault(ref, not existed) for ref, existed in entries}

    def applied(self, refs: Sequence[ObjectRef]) -> None:
        self.applied_refs.extend(r for r in refs if r not in self.applied_refs)

    def entries(self) -> list[tuple[ObjectRef, bool]]:
        return list(self.created.items())

    def step(
        self,
        action: str,
        status: str,
        output: str | None = None,
        *,
        attempt: int | None = None,
        obj: str = "",
    ) -> None:
        self.steps[f"{action} {obj}" if obj else action] = (status, output)


def rolled_out(replicas: int = 1, generation: int = 1) -> dict[str, Any]:
    """The status a Deployment controller writes once `replicas` are updated and available."""
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }


def _controller(cluster: EmulatedCluster, done: threading.Event) -> None:
    """Rolls out every Deployment whose latest generation is not observed yet."""

    def roll() -> None:
        for (resource, _namespace, _name), obj in list(cluster.emulator.objects.items()):
            if obj.deleted or resource.plural != "deployments":
                continue
            raw: dict[str, Any] = obj.raw
            generation = raw["metadata"].get("generation", 1)
            if (raw.get("status") or {}).get("observedGeneration") != generation:
                obj.patch({"status": rolled_out(raw["spec"].get("replicas", 1), generation)})

    while not done.wait(0.1):
        cluster.call(roll)


@contextmanager
def rolling_cluster() -> Iterator[EmulatedCluster]:
    """An emulated cluster with a stand-in controller that rolls out every Deployment."""
    with emulated_cluster() as cluster:
        done = threading.Event()
        thread = threading.Thread(target=_controller, args=(cluster, done), daemon=True)
        thread.start()
        try:
            yield cluster
        finally:
            done.set()
            thread.join()
