"""Health of live Kubernetes objects: pure functions from an object's payload to a `Health`.

Owns the rules (docs/kubernetes.md): Deployments, StatefulSets and DaemonSets must have observed
their latest generation and rolled it out (updated, ready and available replicas); Jobs must have
completed; Pods must be ready (or have succeeded); PersistentVolumeClaims must be Bound; custom
resources with a `Ready` condition must have it `True`; everything else is healthy once present.

Deliberately does not: fetch objects, wait, or decide what to do about an unhealthy object. The
payloads are `TypedDict`s over the JSON the API server returns, read defensively (a missing field
means "not yet"), so the same functions serve the delivery's wait loop and, later, drift checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TypedDict, cast

from lockstep.domain.kube_objects import Condition, KubeObject

# API groups of the built-in kinds: their objects get kind rules or presence, never the
# custom-resource `Ready` condition rule.
_BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
        "certificates.k8s.io",
        "node.k8s.io",
    }
)
_POD_FAILURES = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"}
)


class Health(IntEnum):
    """Ordered from best to worst, so the health of several objects is their `max`."""

    HEALTHY = 0
    PROGRESSING = 1  # on its way; waiting may help
    MISSING = 2  # not (yet) on the cluster
    DEGRADED = 3  # unhealthy, but a controller may still recover it (e.g. CrashLoopBackOff)
    FAILED = 4  # will not get healthy by waiting (Job failed, rollout deadline exceeded)


@dataclass(frozen=True)
class Assessment:
    health: Health
    message: str = ""


class WorkloadStatus(TypedDict, total=False):
    """The status fields Deployments, StatefulSets and DaemonSets report."""

    observedGeneration: int
    replicas: int
    updatedReplicas: int
    readyReplicas: int
    availableReplicas: int
    currentRevision: str
    updateRevision: str
    desiredNumberScheduled: int
    updatedNumberScheduled: int
    numberAvailable: int
    numberReady: int
    conditions: list[Condition]


def assess(obj: KubeObject | None) -> Assessment:
    """The health of one live object (None: it is not there)."""
    if obj is None:
        return Assessment(Health.MISSING, "not found")
    group = obj.get("apiVersion", "").rpartition("/")[0]
    kind = obj.get("kind", "")
    rule = _RULES.get((group, kind))
    if rule is not None:
        return rule(obj)
    if group not in _BUILTIN_GROUPS:
        return _custom_resource(obj)
    return Assessment(Health.HEALTHY, "present")


def worst(assessments: list[Assessment]) -> Health:
    return max((a.health for a in assessments), default=Health.HEALTHY)


def _workload_status(obj: KubeObject) -> tuple[WorkloadStatus, Assessment | None]:
    """The status, or PROGRESSING when the controller has not seen the latest spec yet."""
    status = cast(WorkloadStatus, obj.get("status") or {})
    generation = obj.get("metadata", {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return status, Assessment(Health.PROGRESSING, f"waiting for generation {generation} to be observed")
    return status, None


def _replicas(obj: KubeObject) -> int:
    value = (obj.get("spec") or {}).get("replicas", 1)
    return value if isinstance(value, int) else 1


def _deployment(obj: KubeObject) -> Assessment:
    status, pending = _workload_status(obj)
    if pending:
        return pending
    for c in status.get("conditions", []):
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            return Assessment(Health.FAILED, c.get("message") or "progress deadline exceeded")
    if (obj.get("spec") or {}).get("paused"):
        return Assessment(Health.HEALTHY, "paused")
    want = _replicas(obj)
    updated = status.get("updatedReplicas", 0)
    if updated < want:
        return Assessment(Health.PROGRESSING, f"{updated} of {want} replicas updated")
    if status.get("replicas", 0) > updated:
        return Assessment(
            Health.PROGRESSING, f"{status.get('replicas', 0) - updated} old replicas pending termination"
        )
    available = status.get("availableReplicas", 0)
    if available < updated:
        return Assessment(Health.PROGRESSING, f"{available} of {updated} updated replicas available")
    return Assessment(Health.HEALTHY, f"{available} replicas available")


def _statefulset(obj: KubeObject) -> Assessment:
    status, pending = _workload_status(obj)
    if pending:
        return pending
    spec = obj.get("spec") or {}
    want = _replicas(obj)
    ready = status.get("readyReplicas", 0)
    if ready < want:
        return Assessment(Health.PROGRESSING, f"{ready} of {want} replicas ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return Assessment(Health.HEALTHY, "OnDelete update strategy: pods update when deleted")
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    updated = status.get("updatedReplicas", 0)
    if updated < want - partition:
        return Assessment(Health.PROGRESSING, f"{updated} of {want - partition} replicas updated")
    if not partition and status.get("updateRevision", "") != status.get("currentRevision", ""):
        return Assessment(Health.PROGRESSING, "waiting for the rolling update to complete")
    return Assessment(Health.HEALTHY, f"{ready} replicas ready")


def _daemonset(obj: KubeObject) -> Assessment:
    status, pending = _workload_status(obj)
    if pending:
        return pending
    if ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete":
        return Assessment(Health.HEALTHY, "OnDelete update strategy: pods update when deleted")
    want = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    if updated < want:
        return Assessment(Health.PROGRESSING, f"{updated} of {want} pods updated")
    available = status.get("numberAvailable", 0)
    if available < want:
        return Assessment(Health.PROGRESSING, f"{available} of {want} pods available")
    return Assessment(Health.HEALTHY, f"{available} pods available")


def _conditions(obj: KubeObject) -> dict[str, Condition]:
    raw = (obj.get("status") or {}).get("conditions") or []
    return {c["type"]: c for c in cast(list[Condition], raw) if isinstance(c, dict) and "type" in c}


def _job(obj: KubeObject) -> Assessment:
    conditions = _conditions(obj)
    for kind, health in (("Failed", Health.FAILED), ("Complete", Health.HEALTHY)):
        c = conditions.get(kind)
        if c and c.get("status") == "True":
            return Assessment(health, c.get("message") or c.get("reason") or kind.lower())
    if (obj.get("spec") or {}).get("suspend"):
        return Assessment(Health.PROGRESSING, "suspended")
    succeeded = (obj.get("status") or {}).get("succeeded", 0)
    return Assessment(Health.PROGRESSING, f"running ({succeeded} succeeded)")


def _pod(obj: KubeObject) -> Assessment:
    status = obj.get("status") or {}
    phase = status.get("phase", "Pending")
    if phase == "Succeeded":
        return Assessment(Health.HEALTHY, "succeeded")
    if phase == "Failed":
        return Assessment(Health.FAILED, status.get("message") or status.get("reason") or "failed")
    for c in status.get("containerStatuses") or []:
        reason = ((c.get("state") or {}).get("waiting") or {}).get("reason", "")
        if reason in _POD_FAILURES:
            return Assessment(Health.DEGRADED, f"container {c.get('name', '?')}: {reason}")
    ready = _conditions(obj).get("Ready")
    if phase == "Running" and ready and ready.get("status") == "True":
        return Assessment(Health.HEALTHY, "ready")
    return Assessment(Health.PROGRESSING, f"{phase}, not ready")


def _pvc(obj: KubeObject) -> Assessment:
    phase = (obj.get("status") or {}).get("phase", "Pending")
    if phase == "Bound":
        return Assessment(Health.HEALTHY, "bound")
    if phase == "Lost":
        return Assessment(Health.FAILED, "claim lost its volume")
    return Assessment(Health.PROGRESSING, f"{phase}, not bound")


def _custom_resource(obj: KubeObject) -> Assessment:
    ready = _conditions(obj).get("Ready")
    if ready is None:
        return Assessment(Health.HEALTHY, "present (no Ready condition)")
    detail = ready.get("message") or ready.get("reason") or ""
    if ready.get("status") == "True":
        return Assessment(Health.HEALTHY, detail or "ready")
    # Ready=False is what most controllers report while still reconciling: wait for it.
    return Assessment(Health.PROGRESSING, "not ready" + (f": {detail}" if detail else ""))


_RULES = {
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _statefulset,
    ("apps", "DaemonSet"): _daemonset,
    ("batch", "Job"): _job,
    ("", "Pod"): _pod,
    ("", "PersistentVolumeClaim"): _pvc,
}
