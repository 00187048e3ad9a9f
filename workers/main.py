"""Wiring settings -> adapters -> activities -> Temporal Worker on the `lockstep` task queue.

Also owns how the worker process lives and stops (docs/operations.md): the SDK's metrics are
served for Prometheus, blocking work runs on thread pools sized to the worker's limits
(`activities.threads`), and a SIGTERM lets activities in flight finish, up to
`temporal.shutdown_timeout`, before anything is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from temporalio.client import Client
from temporalio.worker import PatchActivationInput, Worker

from activities.deployment import DeploymentActivities
from activities.governance import GovernanceActivities
from activities.lane import LaneActivities
from activities.polling import PollingActivities
from activities.records import RecordActivities
from activities.threads import ActivityThreads
from lockstep.delivery.kinds import deliverers
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.durations import format_duration
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.client import connect
from lockstep.orchestration.drift_sweep import ensure_drift_schedule
from lockstep.orchestration.handover import hand_over_lanes
from lockstep.orchestration.schedules import ensure_poll_schedules
from lockstep.orchestration.telemetry import metrics_runtime
from lockstep.policy.engine import make_policy_engine
from lockstep.security.approval_signing import ApprovalVerifier, key_files
from lockstep.security.known_secrets import api_only_secrets_held, masker_for
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.targets.registry import TargetRegistry
from workers.drift import drift_activities
from workflows.deployment import DeploymentWorkflow
from workflows.drift import DriftSweep
from workflows.lane import EnvironmentLane
from workflows.polling import PollRepository

log = logging.getLogger("lockstep.worker")

# How many activities, and local activities, one worker runs at once; each kind has as many
# threads (`ActivityThreads`), so a 30 s local store write never queues behind SSH deploys.
MAX_CONCURRENT_ACTIVITIES = 64
MAX_CONCURRENT_LOCAL_ACTIVITIES = 32


def activity_threads() -> ActivityThreads:
    """Thread pools sized to this worker's limits."""
    return ActivityThreads(
        activities=MAX_CONCURRENT_ACTIVITIES, local_activities=MAX_CONCURRENT_LOCAL_ACTIVITIES
    )


def build_worker(
    client: Client,
    settings: Settings,
    *,
    task_queue: str | None = None,
    threads: ActivityThreads | None = None,
    patch_activation_callback: Callable[[PatchActivationInput], bool] | None = None,
) -> Worker:
    """The worker with every workflow and activity. `threads` (default: new ones, released when
    the worker is garbage collected) should be shut down by the caller once the worker stopped;
    `patch_activation_callback` lets tests run a patch's old branch on purpose (to record its
    history: docs/operations.md, "Versioning and patches")."""
    threads = threads or activity_threads()
    store = Store.from_url(settings.database_url)
    targets = TargetRegistry(settings.targets)
    mirrors = GitMirrors(settings.mirrors_dir)
    renderer = CommitRenderer(
        mirrors,
        targets.types(),
        target_namespaces=targets.namespaces(),
        repositories=[r.url for r in settings.repositories],
        configured_only=True,
    )
    users = {name: (list(u.groups), u.email) for name, u in settings.users.items()}
    delivery = deliverers(targets=targets, store=store, masker=masker_for(settings))
    policy = make_policy_engine(settings.policy)
    deployment = DeploymentActivities(
        store=store,
        renderer=renderer,
        targets=targets,
        deliverers=delivery,
        threads=threads,
        users=users,
        masker=masker_for(settings),
    )
    governance = GovernanceActivities(
        store=store,
        threads=threads,
        engine=policy,
        proofs=ApprovalVerifier(key_files(settings)[1]),
        groups={name: u.groups for name, u in settings.users.items()},
    )
    records = RecordActivities(store=store, threads=threads)
    lanes = LaneActivities(client=client, settings=settings, store=store, renderer=renderer, threads=threads)
    polling = PollingActivities(client=client, settings=settings, store=store, git=mirrors, threads=threads)
    workflows: list[type] = [DeploymentWorkflow, EnvironmentLane, PollRepository, DriftSweep]
    drift = drift_activities(client, settings, store, renderer, delivery, policy, threads)
    sweeping: list[Callable[..., Any]] = [drift.list_environments, drift.sweep_environment]
    return Worker(
        client,
        task_queue=task_queue or settings.temporal.task_queue,
        workflows=workflows,
        activities=[
            deployment.prepare,
            deployment.deploy_component,
            deployment.rollback_component,
            governance.evaluate_policy,
            governance.record_approval,
            records.record_status,
            records.record_outcome,
            records.record_lane,
            lanes.join_lane,
            lanes.closed_status,
            lanes.active_deployment,
            lanes.requeue,
            lanes.promote,
            lanes.pick_newest,
            polling.poll_repository,
            *sweeping,
        ],
        max_concurrent_activities=threads.activities,
        max_concurrent_local_activities=threads.local_activities,
        # Stopping (SIGTERM): no new tasks are taken, and activities in flight finish rather than
        # being cancelled at once, which would cost each of them an attempt and redo its work.
        graceful_shutdown_timeout=settings.temporal.shutdown_timeout,
        patch_activation_callback=patch_activation_callback,
    )


_INTERRUPT_WAIT = 5.0  # seconds a second signal waits for commands on targets to be killed


async def serve(settings: Settings) -> None:
    """Run the worker until SIGINT/SIGTERM, then let in-flight activities finish (up to
    `temporal.shutdown_timeout`, after which they are cancelled) and stop."""
    client = await connect(settings.temporal, runtime=metrics_runtime(settings.temporal.metrics_listen))
    threads = activity_threads()
    worker = build_worker(client, settings, threads=threads)
    try:
        schedules = await ensure_poll_schedules(client, settings)
        log.info("poll schedules: %s", ", ".join(schedules) or "none")
    except Exception:  # polling is an extra: deployments from webhooks and the API still work
        log.exception("could not create or update the poll schedules")
    try:
        log.info("drift sweep schedule: %s", await ensure_drift_schedule(client, settings))
    except Exception:  # the sweep is an extra too: deployments do not depend on it
        log.exception("could not create or update the drift sweep schedule")
    try:  # lanes still on the update-driven protocol continue as signalled ones
        handed = await hand_over_lanes(client, settings.temporal.task_queue)
        log.info("handover signalled to %d running lane(s)", handed)
    except Exception as err:  # a legacy lane keeps working; the next worker start tries again
        log.warning("could not signal handover to the running lanes: %s", err)
    stopped_by: list[signal.Signals] = []
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stopped_by:  # asked twice: whoever asks will not wait, so neither do the activities
            log.warning(
                "%s again: stopping at once; the activities in flight are retried by another worker "
                "after their heartbeat timeout",
                sig.name,
            )
            # Their commands on the targets are killed first (as a cancellation would), so none
            # keeps running after this process has gone.
            left = threads.interrupt_all(wait=_INTERRUPT_WAIT)
            if left:
                log.warning("%d activities did not stop within %.0f s", left, _INTERRUPT_WAIT)
            logging.shutdown()
            os._exit(128 + sig)  # as SIGKILL would: nothing of the SDK's is waited for
        stopped_by.append(sig)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    log.info("worker polling task queue %s on %s", settings.temporal.task_queue, settings.temporal.address)
    try:
        async with worker:
            await stop.wait()
            log.info(
                "%s: taking no new work; activities in flight have up to %s to finish before they are "
                "cancelled (temporal.shutdown_timeout)",
                stopped_by[0].name,
                format_duration(settings.temporal.shutdown_timeout.total_seconds()),
            )
    finally:
        threads.shutdown()
    log.info("worker stopped")


def run(settings: Settings) -> None:
    """Serve until stopped. How the process then ends (without finalising the interpreter, after
    the SDK's runtime started: sdk-python#300) is the CLI entry point's, for every command alike;
    a failed connect raises TemporalUnavailable, which the CLI reports in one line, exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    held = api_only_secrets_held(settings, os.environ)
    if held:  # said before connecting, so it shows even when Temporal is not there yet
        log.warning(
            "this worker's environment holds %s, which only the API needs: a deploy command on a local "
            "target can read it from /proc; start the worker without it (lockstep dev does)",
            ", ".join(held),
        )
    asyncio.run(serve(settings))
