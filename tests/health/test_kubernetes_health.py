"""Health rules per kind, against YAML fixtures shaped like what the API server returns."""

from __future__ import annotations

from typing import cast

import pytest
import yaml

from lockstep.domain.kube_objects import KubeObject
from lockstep.health.kubernetes import Assessment, Health, assess, worst


def obj(text: str) -> KubeObject:
    return cast(KubeObject, yaml.safe_load(text))


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, generation: 3}
spec: {replicas: 3}
status: %s
"""


@pytest.mark.parametrize(
    ("status", "health", "says"),
    [
        ("{}", Health.PROGRESSING, "generation 3"),
        (
            "{observedGeneration: 2, updatedReplicas: 3, availableReplicas: 3, replicas: 3}",
            Health.PROGRESSING,
            "observed",
        ),
        (
            "{observedGeneration: 3, replicas: 3, updatedReplicas: 1, availableReplicas: 3}",
            Health.PROGRESSING,
            "1 of 3 replicas updated",
        ),
        (
            "{observedGeneration: 3, replicas: 4, updatedReplicas: 3, availableReplicas: 3}",
            Health.PROGRESSING,
            "old replicas",
        ),
        (
            "{observedGeneration: 3, replicas: 3, updatedReplicas: 3, availableReplicas: 2}",
            Health.PROGRESSING,
            "2 of 3 updated replicas available",
        ),
        (
            "{observedGeneration: 3, replicas: 3, updatedReplicas: 3, "
            "readyReplicas: 3, availableReplicas: 3}",
            Health.HEALTHY,
            "3 replicas available",
        ),
        (
            "{observedGeneration: 3, conditions: [{type: Progressing, status: 'False', "
            "reason: ProgressDeadlineExceeded, message: 'ReplicaSet web-1 has timed out progressing.'}]}",
            Health.FAILED,
            "timed out",
        ),
    ],
)
def test_deployment_rollout(status: str, health: Health, says: str) -> None:
    result = assess(obj(DEPLOYMENT % status))
    assert result.health == health
    assert says in result.message


def test_deployment_replicas_default_to_one() -> None:
    d = obj("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 1}
spec: {}
status: {observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1}
""")
    assert assess(d).health == Health.HEALTHY


STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, generation: 2}
spec: {replicas: 2%s}
status: %s
"""


@pytest.mark.parametrize(
    ("spec", "status", "health"),
    [
        ("", "{observedGeneration: 1}", Health.PROGRESSING),
        ("", "{observedGeneration: 2, readyReplicas: 1, updatedReplicas: 2}", Health.PROGRESSING),
        (
            "",
            "{observedGeneration: 2, readyReplicas: 2, updatedReplicas: 1, "
            "currentRevision: a, updateRevision: b}",
            Health.PROGRESSING,
        ),
        (
            "",
            "{observedGeneration: 2, readyReplicas: 2, updatedReplicas: 2, "
            "currentRevision: b, updateRevision: b}",
            Health.HEALTHY,
        ),
        (", updateStrategy: {type: OnDelete}", "{observedGeneration: 2, readyReplicas: 2}", Health.HEALTHY),
        (
            ", updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}",
            "{observedGeneration: 2, readyReplicas: 2, updatedReplicas: 1, "
            "currentRevision: a, updateRevision: b}",
            Health.HEALTHY,
        ),
    ],
)
def test_statefulset_rollout(spec: str, status: str, health: Health) -> None:
    assert assess(obj(STATEFULSET % (spec, status))).health == health


@pytest.mark.parametrize(
    ("status", "health"),
    [
        (
            "{observedGeneration: 1, desiredNumberScheduled: 3, "
            "updatedNumberScheduled: 2, numberAvailable: 3}",
            Health.PROGRESSING,
        ),
        (
            "{observedGeneration: 1, desiredNumberScheduled: 3, "
            "updatedNumberScheduled: 3, numberAvailable: 2}",
            Health.PROGRESSING,
        ),
        (
            "{observedGeneration: 1, desiredNumberScheduled: 3, "
            "updatedNumberScheduled: 3, numberAvailable: 3}",
            Health.HEALTHY,
        ),
        ("{observedGeneration: 0}", Health.PROGRESSING),
    ],
)
def test_daemonset_rollout(status: str, health: Health) -> None:
    ds = f"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent, generation: 1}}\nstatus: {status}\n"
    assert assess(obj(ds)).health == health


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("{active: 1}", Health.PROGRESSING),
        ("{succeeded: 1, conditions: [{type: Complete, status: 'True'}]}", Health.HEALTHY),
        (
            "{failed: 6, conditions: [{type: Failed, status: 'True', reason: BackoffLimitExceeded, "
            "message: Job has reached the specified backoff limit}]}",
            Health.FAILED,
        ),
    ],
)
def test_job_completion(status: str, health: Health) -> None:
    job = f"apiVersion: batch/v1\nkind: Job\nmetadata: {{name: migrate}}\nstatus: {status}\n"
    assert assess(obj(job)).health == health


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("{phase: Pending}", Health.PROGRESSING),
        ("{phase: Running, conditions: [{type: Ready, status: 'False'}]}", Health.PROGRESSING),
        ("{phase: Running, conditions: [{type: Ready, status: 'True'}]}", Health.HEALTHY),
        ("{phase: Succeeded}", Health.HEALTHY),
        ("{phase: Failed, reason: Evicted}", Health.FAILED),
        (
            "{phase: Running, containerStatuses: [{name: app, "
            "state: {waiting: {reason: CrashLoopBackOff}}}]}",
            Health.DEGRADED,
        ),
    ],
)
def test_pod_readiness(status: str, health: Health) -> None:
    pod = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nstatus: {status}\n"
    assert assess(obj(pod)).health == health


@pytest.mark.parametrize(
    ("phase", "health"), [("Pending", Health.PROGRESSING), ("Bound", Health.HEALTHY), ("Lost", Health.FAILED)]
)
def test_pvc_bound(phase: str, health: Health) -> None:
    pvc = (
        f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: data}}\nstatus: {{phase: {phase}}}\n"
    )
    assert assess(obj(pvc)).health == health


@pytest.mark.parametrize(
    ("conditions", "health"),
    [
        ("[]", Health.HEALTHY),
        ("[{type: Synced, status: 'True'}]", Health.HEALTHY),
        ("[{type: Ready, status: 'False', reason: Reconciling}]", Health.PROGRESSING),
        ("[{type: Ready, status: Unknown}]", Health.PROGRESSING),
        ("[{type: Ready, status: 'True'}]", Health.HEALTHY),
    ],
)
def test_custom_resource_ready_condition(conditions: str, health: Health) -> None:
    cr = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    cr += f"status: {{conditions: {conditions}}}\n"
    assert assess(obj(cr)).health == health


def test_presence_for_the_rest() -> None:
    for text in (
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nstatus: {conditions: "
        "[{type: Ready, status: 'False'}]}\n",
    ):
        assert assess(obj(text)).health == Health.HEALTHY
    assert assess(None) == Assessment(Health.MISSING, "not found")


def test_health_is_ordered_and_worst_wins() -> None:
    assert Health.HEALTHY < Health.PROGRESSING < Health.MISSING < Health.DEGRADED < Health.FAILED
    found = [Assessment(Health.HEALTHY), Assessment(Health.DEGRADED), Assessment(Health.PROGRESSING)]
    assert worst(found) == Health.DEGRADED
    assert worst([]) == Health.HEALTHY
