"""The worker's Temporal runtime: the SDK's metrics served over HTTP for Prometheus.

Through these metrics a defect in workflow code shows: the SDK retries a workflow task that
raised a non-Temporal exception, forever and on purpose (the fix is a deployment of the worker,
after which the workflow carries on), so nothing else fails; `temporal_workflow_task_execution_failed`
counts each such failure (docs/operations.md says what to alert on).

Deliberately does not stop a worker whose metrics address cannot be bound (taken by another
worker on the host, say): a worker that cannot be scraped still deploys, while one that does not
start deploys nothing; it says so in its log, and the scrape target being down is itself
alertable (`up == 0`).
"""

from __future__ import annotations

import logging

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger("lockstep.worker")


def metrics_runtime(listen: str | None) -> Runtime | None:
    """A runtime serving the SDK's metrics at http://`listen`/metrics, or None (the SDK's
    default runtime, no metrics) when `listen` is None or cannot be bound."""
    if listen is None:
        return None
    try:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=listen)))
    except ValueError as err:  # the SDK's words: "Failed starting Prometheus exporter: Address in use"
        log.warning(
            "this worker serves no metrics: %s: %s; set temporal.metrics_listen "
            "(LOCKSTEP_TEMPORAL__METRICS_LISTEN) to a free address, or to empty for none",
            listen,
            err,
        )
        return None
    log.info("worker metrics on http://%s/metrics", listen)
    return runtime
