"""The `kubernetes` target adapter: server-side apply, get, list and delete through the `kubernetes` client.

Owns the connection (a kubeconfig file and context, or the in-cluster service account), resource
discovery (which tells whether a kind is namespaced, so objects without a namespace get the
target's; `UnservedKind` when the cluster serves no such kind), server-side apply under field
manager `lockstep` (conflicts forced when the target says so) and its dry run (what an apply would
leave, for previews), deleting with preconditions (`uid`, `resourceVersion`), and wrapping the
client's errors into Lockstep errors that say whether retrying helps.

Deliberately does not: decide what to apply, wait for health (`lockstep.delivery.kubernetes`
and `lockstep.health.kubernetes`) or remember what it applied (`lockstep.store.inventory`).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any, Literal, cast

import urllib3.exceptions
from kubernetes import client as _client
from kubernetes import config as _config
from kubernetes import dynamic as _dynamic
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import exceptions as dynamic_errors

from lockstep.domain.errors import ConfigError, LockstepError, TargetUnreachable
from lockstep.domain.kube_objects import KubeObject, ObjectRef
from lockstep.settings import KubernetesTargetSettings

# The client ships no type information: its modules are used as `Any` at this boundary only.
k8s_client: Any = _client
k8s_config: Any = _config
dynamic: Any = _dynamic

FIELD_MANAGER = "lockstep"
LIST_PAGE = 500  # objects per LIST request
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
ApplyAction = Literal["created", "configured", "unchanged"]


class KubernetesApiError(LockstepError):
    """The API server refused a request; `retryable` says whether asking again may help."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        self.status = status
        self.retryable = retryable
        super().__init__(message)


class ApplyConflict(KubernetesApiError):
    """Another field manager owns fields Lockstep applies (set `force_conflicts` to take them)."""


class PreconditionFailed(KubernetesApiError):
    """A delete's preconditions no longer hold: the object was replaced or changed since it was read."""


class UnservedKind(KubernetesApiError):
    """The cluster serves no such kind in that apiVersion (a CRD removed, an API version retired)."""


@dataclass(frozen=True)
class Applied:
    ref: ObjectRef
    action: ApplyAction
    live: KubeObject


class KubernetesCluster:
    """One cluster as a target: every call goes to the API server, nothing is cached but discovery."""

    def __init__(
        self, api: Any, *, namespace: str, force_conflicts: bool, request_timeout: float = 30.0
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._force = force_conflicts
        self._timeout = request_timeout
        self._dynamic: Any = None
        self._resources: dict[tuple[str, str], Any] = {}  # (apiVersion, kind) -> discovered resource

    def close(self) -> None:
        self._api.close()

    def ref(self, obj: KubeObject) -> ObjectRef:
        """The object's identity, its namespace defaulted to the target's when the kind is namespaced."""
        resource = self._resource(obj.get("apiVersion", ""), obj.get("kind", ""))
        meta = obj.get("metadata", {})
        namespace = (meta.get("namespace") or self._namespace) if resource.namespaced else ""
        return ObjectRef(obj.get("apiVersion", ""), obj.get("kind", ""), namespace, meta.get("name", ""))

    def get(self, ref: ObjectRef) -> KubeObject | None:
        """The live object, or None when it does not exist."""
        resource = self._resource(ref.api_version, ref.kind)
        try:
            live = self._call(
                lambda: self._client.get(
                    resource,
                    name=ref.name,
                    namespace=ref.namespace or None,
                    _request_timeout=self._timeout,
                    serializer=_plain,
                ),
                f"reading {ref}",
            )
        except KubernetesApiError as err:
            if err.status == 404:
                return None
            raise
        return _object(live, ref)

    def list_objects(
        self, api_version: str, kind: str, namespace: str, *, label_selector: str
    ) -> list[KubeObject]:
        """The objects of a kind in `namespace` ("" for a cluster-scoped kind) that carry the
        labels `label_selector` asks for, read in pages of LIST_PAGE."""
        resource = self._resource(api_version, kind)
        where = f"{kind} in {namespace}" if namespace else kind
        found: list[KubeObject] = []
        page: str | None = None
        while True:
            answer = self._call(
                lambda token=page: self._client.get(
                    resource,
                    namespace=namespace or None,
                    label_selector=label_selector,
                    limit=LIST_PAGE,
                    _continue=token,
                    _request_timeout=self._timeout,
                    serializer=_plain,
                ),
                f"listing {where} ({label_selector})",
            )
            if not isinstance(answer, dict):
                raise KubernetesApiError(f"Kubernetes API answered something other than a list of {where}")
            for item in answer.get("items") or []:
                # A LIST's items leave out their apiVersion and kind (the list says them).
                found.append(cast(KubeObject, {"apiVersion": api_version, "kind": kind, **item}))
            page = (answer.get("metadata") or {}).get("continue") or None
            if page is None:
                return found

    def apply(self, obj: KubeObject) -> Applied:
        """Server-side apply `obj` (converges: applying the same object again changes nothing)."""
        ref = self.ref(obj)
        before = self.get(ref)
        after = self._server_side_apply(ref, obj, dry_run=False)
        action: ApplyAction = (
            "created" if before is None else "unchanged" if _same(before, after) else "configured"
        )
        return Applied(ref, action, after)

    def dry_run_apply(self, obj: KubeObject) -> KubeObject:
        """The object as a server-side apply of `obj` would leave it (`dryRun=All`: admission and
        defaulting run, nothing is stored). KubernetesApiError when the server refuses the dry
        run (e.g. an admission webhook with side effects), as it would refuse the apply."""
        return self._server_side_apply(self.ref(obj), obj, dry_run=True)

    def _server_side_apply(self, ref: ObjectRef, obj: KubeObject, *, dry_run: bool) -> KubeObject:
        body = cast(dict[str, Any], copy.deepcopy(obj))
        if ref.namespace:
            body.setdefault("metadata", {})["namespace"] = ref.namespace
        resource = self._resource(ref.api_version, ref.kind)
        extra: dict[str, Any] = {"dry_run": "All"} if dry_run else {}
        live = self._call(
            lambda: self._client.server_side_apply(
                resource,
                body=body,
                name=ref.name,
                namespace=ref.namespace or None,
                field_manager=FIELD_MANAGER,
                force_conflicts=self._force,
                _request_timeout=self._timeout,
                serializer=_plain,
                **extra,
            ),
            f"{'dry-run ' if dry_run else ''}applying {ref}",
        )
        return _object(live, ref)

    def delete(self, ref: ObjectRef, *, uid: str | None = None, resource_version: str | None = None) -> bool:
        """Delete the object (its dependents in the background); False when it was already gone.
        With `uid` / `resource_version` the API server deletes only the object that still has
        them (preconditions): one replaced or changed since it was read answers 409 (ApplyConflict)."""
        resource = self._resource(ref.api_version, ref.kind)
        preconditions = {
            k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v is not None
        }
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": preconditions}
        try:
            self._call(
                lambda: self._client.delete(
                    resource,
                    name=ref.name,
                    namespace=ref.namespace or None,
                    body=body if preconditions else None,
                    propagation_policy="Background",
                    _request_timeout=self._timeout,
                ),
                f"deleting {ref}",
            )
        except KubernetesApiError as err:
            if err.status == 404:
                return False
            if err.status == 409 and preconditions:
                raise PreconditionFailed(f"{ref} changed since it was read: not deleted", status=409) from err
            raise
        return True

    @property
    def _client(self) -> Any:
        if self._dynamic is None:
            self._dynamic = self._call(lambda: dynamic.DynamicClient(self._api), "discovering the API")
        return self._dynamic

    def _resource(self, api_version: str, kind: str) -> Any:
        """The discovered resource (the client searches every group for it: once per kind here)."""
        found = self._resources.get((api_version, kind))
        if found is not None:
            return found
        try:
            found = self._call(
                lambda: self._client.resources.get(api_version=api_version, kind=kind),
                f"looking up {kind} in {api_version}",
            )
        except (dynamic_errors.ResourceNotFoundError, dynamic_errors.ResourceNotUniqueError) as err:
            raise UnservedKind(
                f"the cluster serves no {kind} in {api_version} (is its CRD installed?): {err}"
            ) from None
        self._resources[api_version, kind] = found
        return found

    def _call(self, fn: Any, doing: str) -> Any:
        try:
            return fn()
        except (dynamic_errors.ResourceNotFoundError, dynamic_errors.ResourceNotUniqueError):
            raise
        except dynamic_errors.DynamicApiError as err:
            summary: str = cast(Any, err).summary()
            raise _api_error(doing, err.status, summary) from None
        except k8s_client.ApiException as err:
            raise _api_error(doing, err.status, str(err.reason)) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise TargetUnreachable(f"Kubernetes API unreachable while {doing}: {err}") from None


def connect_kubernetes(
    target: KubernetesTargetSettings, *, request_timeout: float = 30.0
) -> KubernetesCluster:
    """A client for the target: its kubeconfig (and context), else in-cluster, else ~/.kube/config."""
    try:
        if target.kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
            configuration = k8s_client.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            api = k8s_client.ApiClient(configuration)
        else:
            path = os.path.expanduser(target.kubeconfig) if target.kubeconfig else None
            api = k8s_config.new_client_from_config(config_file=path, context=target.context)
    except (ConfigException, OSError, ValueError) as err:
        where = target.kubeconfig or "in-cluster / default kubeconfig"
        context = f", context {target.context!r}" if target.context else ""
        raise ConfigError(f"kubernetes target ({where}{context}): {err}") from None
    return KubernetesCluster(
        api,
        namespace=target.namespace,
        force_conflicts=target.force_conflicts,
        request_timeout=request_timeout,
    )


def _api_error(doing: str, status: int | None, detail: str) -> KubernetesApiError:
    message = f"Kubernetes API answered {status} while {doing}: {detail}"
    if status == 409:
        return ApplyConflict(
            message + " (another field manager owns these fields; "
            "set force_conflicts on the target to take them over)",
            status=status,
        )
    return KubernetesApiError(message, status=status, retryable=status in _RETRYABLE_STATUS)


def _plain(_client: Any, answer: dict[str, Any]) -> dict[str, Any]:
    """The API server's JSON answer as it is (the client would wrap it in a ResourceInstance,
    field by field, only for `to_dict` to unwrap it again)."""
    return answer


def _object(answer: Any, ref: ObjectRef) -> KubeObject:
    if not isinstance(answer, dict):  # the client hands back text it could not decode as JSON
        raise KubernetesApiError(f"Kubernetes API answered something other than an object for {ref}")
    return cast(KubeObject, answer)


def _same(before: KubeObject, after: KubeObject) -> bool:
    """Whether an apply changed nothing: the resourceVersion says so on a real API server."""
    old, new = before.get("metadata", {}), after.get("metadata", {})
    if "resourceVersion" in old and "resourceVersion" in new:
        return old["resourceVersion"] == new["resourceVersion"]
    return before.get("spec") == after.get("spec") and old == new
