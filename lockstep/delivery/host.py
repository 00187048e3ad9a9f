"""Delivering a `host` component as a release onto every host of a target, in batches.

Per host: record what `current` points at (write-ahead, first write wins), stage the files under
`releases/<commit>`, switch `current` atomically, run `deploy` in the new release, then verify
health. A host whose deploy step already succeeded for this deployment and whose `current`
already points at the release is not redeployed (a retried activity converges). A failing host
stops the rollout after its batch; putting hosts back is `rollback_host_component`'s job, driven
by the journal, so even a half-changed host has a recorded way back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lockstep.delivery.http_health import verify_http
from lockstep.delivery.journal import DeliveryJournal, PriorRelease, StepUpdate
from lockstep.domain.errors import DeploymentStepFailed, LockstepError
from lockstep.domain.models import RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.targets.host import CommandResult, HostConnection
from lockstep.targets.host_commands import run_commands, verify_health
from lockstep.targets.release_layout import FOREIGN_LINK, LayoutRefused, layout_problems, release_name
from lockstep.targets.releases import (
    current_link,
    current_release,
    prune_releases,
    release_dir,
    remember_release,
    rollback_release,
    stage_release,
    switch_current,
)

Progress = Callable[[str], None]


class DeliveryCancelled(LockstepError):
    """Cancellation arrived between two hosts or steps; what was done is in the journal."""


@dataclass(frozen=True)
class DeliveryLimits:
    command_timeout: float = 600.0
    max_output: int = 16384
    keep_releases: int = 5


@dataclass
class HostDelivery:
    """Everything needed to deliver one component at one commit."""

    component: RenderedComponent
    release: str  # the commit sha: files land in <dest>/releases/<release>
    env: Mapping[str, str]  # LOCKSTEP_* variables for deploy and health commands
    journal: DeliveryJournal
    limits: DeliveryLimits
    progress: Progress = lambda _msg: None
    cancelled: threading.Event | None = None
    attempt: int = 1  # the activity's attempt: only a retry looks for work already done

    def wait(self, seconds: float) -> None:
        """Sleep between health attempts, waking early when cancelled."""
        if self.cancelled is None:
            time.sleep(seconds)
        elif self.cancelled.wait(seconds):
            self.check_cancelled()

    def check_cancelled(self) -> None:
        if self.cancelled is not None and self.cancelled.is_set():
            raise DeliveryCancelled(f"{self.component.name}: delivery cancelled")


def _health_progress(d: HostDelivery, host: str, message: str) -> None:
    d.check_cancelled()
    d.progress(f"{host}: health: {message}")


def _outputs(results: Sequence[CommandResult]) -> str:
    return "\n".join(f"$ {r.command}\n{r.output}".rstrip() for r in results)


def _work_dir(component: RenderedComponent) -> str | None:
    return current_link(component.releases[0].dest) if component.releases else None


def _deliver_to_host(d: HostDelivery, conn: HostConnection) -> None:
    comp, host = d.component, conn.name
    live = {t.dest: current_release(conn, t.dest) for t in comp.releases}
    # Only a retry can find its own work done; a first attempt skips the lookup.
    if (
        d.attempt > 1
        and all(r == d.release for r in live.values())
        and d.journal.step_status(host=host, action="deploy") == StepStatus.SUCCEEDED
    ):
        d.progress(f"{host}: already deployed, verifying health")
        priors = {p.dest: p.previous for p in d.journal.priors() if p.host == host}
        pending: list[StepUpdate] = []
    else:
        priors = d.journal.begin_host(host=host, live=live)  # write-ahead: before any change
        pending = [("deploy", StepStatus.SUCCEEDED, _deploy(d, conn))]
    pending += _verify_host(d, conn, pending)
    d.journal.steps(host=host, updates=pending)
    for tree in comp.releases:
        prior = release_name(priors.get(tree.dest))
        prune_releases(conn, tree.dest, d.limits.keep_releases, protect=[d.release, prior])


def _deploy(d: HostDelivery, conn: HostConnection) -> str:
    """Stage, switch and run the deploy commands on one host; return their output."""
    comp, host = d.component, conn.name
    try:
        for tree in comp.releases:
            d.check_cancelled()
            d.progress(f"{host}: staging {len(tree.files)} files in {release_dir(tree.dest, d.release)}")
            remember_release(conn, tree.dest, d.release)  # first: every staged release is in history
            stage_release(
                conn, dest=tree.dest, release=d.release, files=tree.files, content_hash=comp.content_hash
            )
        for tree in comp.releases:
            switch_current(conn, tree.dest, d.release)
        d.check_cancelled()
        d.progress(f"{host}: running {len(comp.deploy_commands)} deploy commands")
        results = run_commands(
            conn,
            list(comp.deploy_commands),
            cwd=_work_dir(comp),
            env=d.env,
            timeout=d.limits.command_timeout,
            max_output=d.limits.max_output,
        )
    except BaseException as err:
        output = "\n".join([str(err), _outputs(getattr(err, "results", []))]).strip()
        d.journal.steps(host=host, updates=[("deploy", StepStatus.FAILED, output)])
        raise
    return _outputs(results)


def _verify_host(d: HostDelivery, conn: HostConnection, pending: list[StepUpdate]) -> list[StepUpdate]:
    """Verify health; return the step update to record (failures are recorded at once)."""
    host, health = conn.name, d.component.health
    if not health.commands and not health.http:
        return [("health", StepStatus.SUCCEEDED, "no health checks defined")]
    d.journal.steps(host=host, updates=[*pending, ("health", StepStatus.RUNNING, None)])
    pending.clear()
    try:
        results = verify_health(
            conn,
            health,
            cwd=_work_dir(d.component),
            env=d.env,
            command_timeout=min(d.limits.command_timeout, max(health.timeout_seconds, 1.0)),
            max_output=d.limits.max_output,
            heartbeat=lambda msg: _health_progress(d, host, msg),
            sleep=d.wait,
        )
        # http checks go from the worker, once per host, after that host's commands have passed
        http = verify_http(
            health, label=host, heartbeat=lambda msg: _health_progress(d, host, msg), sleep=d.wait
        )
    except BaseException as err:
        output = "\n".join([str(err), _outputs(getattr(err, "results", []))]).strip()
        d.journal.steps(host=host, updates=[("health", StepStatus.FAILED, output)])
        raise
    return [("health", StepStatus.SUCCEEDED, "\n".join(filter(None, [_outputs(results), http])))]


def check_hosts(d: HostDelivery, hosts: Sequence[HostConnection]) -> None:
    """Refuse, before any host changes, a dest whose `releases` or `current` Lockstep does not
    own on any host; each refused host gets a failed deploy step naming what is in the way."""
    dests = [t.dest for t in d.component.releases]

    def problems(conn: HostConnection) -> list[str]:
        return [p for dest in dests for p in layout_problems(conn, dest)]

    if len(hosts) == 1:
        found = [problems(hosts[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
            found = list(pool.map(problems, hosts))
    refused = [(conn, p) for conn, p in zip(hosts, found, strict=True) if p]
    for conn, p in refused:
        d.journal.steps(host=conn.name, updates=[("deploy", StepStatus.FAILED, "; ".join(p))])
    if refused:
        raise LayoutRefused(
            "nothing was changed on any host: " + "; ".join(msg for _, p in refused for msg in p)
        )


def deliver_host_component(d: HostDelivery, hosts: Sequence[HostConnection], batch: int) -> list[str]:
    """Deliver onto `hosts`, `batch` at a time; raise the first failure after its batch ends.
    Every host's layout is checked first (`check_hosts`)."""
    check_hosts(d, hosts)
    size = max(1, batch)
    done: list[str] = []
    for start in range(0, len(hosts), size):
        group = hosts[start : start + size]
        d.check_cancelled()
        d.progress(f"batch {start // size + 1}: {', '.join(h.name for h in group)}")
        if len(group) == 1:
            _deliver_to_host(d, group[0])  # no thread for a batch of one (the local target)
        else:
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                futures = [pool.submit(_deliver_to_host, d, conn) for conn in group]
            errors = [e for e in (f.exception() for f in futures) if e is not None]
            if errors:
                raise errors[0]
        done += [h.name for h in group]
    return done


def rollback_host_component(
    d: HostDelivery, hosts: Sequence[HostConnection], deploy_commands_for: Callable[[str], Sequence[str]]
) -> bool:
    """Put every host this deployment touched back on the release recorded before it.

    `deploy_commands_for(release)` gives the deploy commands of the release switched back to;
    they run again there, once per host, as after any deploy. They are worked out before any
    switch, and run when this attempt switched something or an earlier attempt of the rollback
    did not finish (it may have switched, then died before the commands). Returns whether
    anything changed.
    """
    by_host = {h.name: h for h in hosts}
    priors_by_host: dict[str, list[PriorRelease]] = {}
    for prior in d.journal.priors():
        priors_by_host.setdefault(prior.host, []).append(prior)
    changed_any = False
    for host, priors in priors_by_host.items():
        conn = by_host.get(host)
        if conn is None:
            raise DeploymentStepFailed(f"{d.component.name}: host {host} is no longer in the target")
        unfinished = d.journal.step_status(host=host, action="rollback") in (
            StepStatus.RUNNING,
            StepStatus.FAILED,
        )
        # Deploy commands rerun only for a Lockstep release: a foreign link is restored as it was.
        anchor = next((p for p in priors if release_name(p.previous) is not None), None)
        commands = list(deploy_commands_for(anchor.previous)) if anchor and anchor.previous else []
        d.journal.steps(host=host, updates=[("rollback", StepStatus.RUNNING, None)])
        try:
            changed = [rollback_release(conn, dest=p.dest, previous=p.previous) for p in priors]
            results: list[CommandResult] = []
            if anchor and anchor.previous and (any(changed) or unfinished):
                d.progress(f"{host}: back on {anchor.previous[:12]}, running deploy commands")
                results = run_commands(
                    conn,
                    commands,
                    cwd=current_link(anchor.dest),
                    env={**d.env, "LOCKSTEP_COMMIT": anchor.previous},
                    timeout=d.limits.command_timeout,
                    max_output=d.limits.max_output,
                )
        except BaseException as err:
            d.journal.steps(host=host, updates=[("rollback", StepStatus.FAILED, str(err))])
            raise
        detail = "; ".join(
            f"{p.dest}/current -> {_shown(p.previous)}" if c else f"{p.dest}: unchanged"
            for p, c in zip(priors, changed, strict=True)
        )
        output = "\n".join([detail, _outputs(results)]).strip()
        d.journal.steps(host=host, updates=[("rollback", StepStatus.SUCCEEDED, output)])
        changed_any = changed_any or any(changed)
    return changed_any


def _shown(previous: str | None) -> str:
    """A recorded prior as a person reads it: the release, the link target, or `(removed)`."""
    if previous is None:
        return "(removed)"
    return previous if release_name(previous) else previous.removeprefix(FOREIGN_LINK)
