"""Delivering a `host` component as a release onto every host of a target, in batches.

Per host: record what `current` points at (write-ahead, first write wins), stage the files under
`releases/<commit>`, switch `current` atomically, run `deploy` in the new release, then verify
health. A host whose files are identical to its live release is neither staged nor switched, but
its deploy commands still run, in the live release (recorded as its prior first, so that a
rollback runs the previous revision's deploy commands there again). A host
whose deploy step already succeeded for this deployment is not redeployed (a retried activity
converges). A failing host stops the rollout after its batch; a deploy needs every host
(`require_every_host`).

Deliberately does not put hosts back: that is `lockstep.delivery.host_rollback`, driven by the
journal written here, so even a half-changed host has a recorded way back. Nor does it compare
files (`lockstep.delivery.host_live`) or manage the release layout (`lockstep.targets.releases`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lockstep.delivery.host_live import (
    HostState,
    host_changes,
    read_host,
    read_release,
    tree_matches,
    unchanged_release,
)
from lockstep.delivery.journal import DeliveryJournal
from lockstep.domain.changes import ChangeSet
from lockstep.domain.errors import LockstepError, TargetUnreachable
from lockstep.domain.journal import StepUpdate
from lockstep.domain.models import RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.health.commands import verify_health
from lockstep.health.http import verify_http
from lockstep.targets.host import CommandResult, HostConnection, HostReach
from lockstep.targets.host_commands import run_commands
from lockstep.targets.release_layout import LayoutRefused, is_owned_release, layout_problems, release_name
from lockstep.targets.release_written import after_commands, before_commands
from lockstep.targets.releases import (
    current_link,
    current_release,
    prune_releases,
    release_dir,
    remember_release,
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

    @property
    def deployment_id(self) -> str:
        return self.env.get("LOCKSTEP_DEPLOYMENT", "")

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


def command_outputs(results: Sequence[CommandResult]) -> str:
    return "\n".join(f"$ {r.command}\n{r.output}".rstrip() for r in results)


def _work_dir(component: RenderedComponent) -> str | None:
    return current_link(component.releases[0].dest) if component.releases else None


def _deliver_to_host(d: HostDelivery, conn: HostConnection) -> ChangeSet:
    comp, host = d.component, conn.name
    live = {t.dest: current_release(conn, t.dest) for t in comp.releases}
    began = {p.dest: p.previous for p in d.journal.priors() if p.host == host}
    # A prior equal to what is live: delivered as unchanged, its deploy commands run (or nothing
    # was switched yet; then its files still differ and it is delivered as any changed host).
    kept = not began or began == live
    # Only a retry can find its own work done; a first attempt skips the lookup.
    if d.attempt > 1 and d.journal.step_status(host=host, action="deploy") == StepStatus.SUCCEEDED:
        if kept:  # delivered as unchanged: its deploy commands already ran in the live release
            d.progress(f"{host}: already deployed (unchanged), verifying health")
            d.journal.steps(host=host, updates=_verify_host(d, conn, []))
            return host_changes(comp, read_host(conn, comp, live))
        ours = (d.release, _fresh_name(d))  # whichever an earlier attempt staged
        if all(r in ours for r in live.values()):
            d.progress(f"{host}: already deployed, verifying health")
            return _finish(d, conn, began, [], None, {dest: r or d.release for dest, r in live.items()})
    before = read_host(conn, comp, live)
    changes = host_changes(comp, before)
    if unchanged_release(before, changes) and kept:
        return _unchanged(d, conn, before, changes)  # (a host this deployment switched is finished)
    names = _release_names(d, conn, before)
    priors = d.journal.begin_host(host=host, live=live)  # write-ahead: before any change
    pending: list[StepUpdate] = [("deploy", StepStatus.SUCCEEDED, _deploy(d, conn, names))]
    return _finish(d, conn, priors, pending, before if priors == live else None, names)


def _release_names(d: HostDelivery, conn: HostConnection, live: HostState) -> dict[str, str]:
    """Per dest, the release folder this delivery stages into: `releases/<commit>`, unless that
    folder exists and holds other files (edited or added by hand since it was staged, live or
    not): then a fresh `releases/<commit>.<deployment>` beside it, so the changed folder stays as
    it is, the way back for a rollback (a remediation of a hand-edited live release is the case).
    The fresh name is the deployment's own, the same for every attempt of it; a retry whose
    deploy step succeeded takes whichever of the two it finds live."""
    trees = {t.dest: t for t in live.trees}
    names = {}
    for tree in d.component.releases:
        held = trees.get(tree.dest)
        found = None
        if held is not None and held.release == d.release:
            found = held
        elif is_owned_release(conn, tree.dest, d.release):
            found = read_release(conn, tree, d.release)
        fresh = found is None or tree_matches(tree, found)
        names[tree.dest] = d.release if fresh else _fresh_name(d)
    return names


def _fresh_name(d: HostDelivery) -> str:
    """The release this deployment stages beside a `releases/<commit>` edited by hand."""
    return f"{d.release}.{hashlib.sha256(d.deployment_id.encode()).hexdigest()[:10]}"


def _finish(
    d: HostDelivery,
    conn: HostConnection,
    priors: Mapping[str, str | None],
    pending: list[StepUpdate],
    before: HostState | None,
    names: Mapping[str, str],
) -> ChangeSet:
    """Verify health, record the steps, prune old releases and report the host's changes against
    `before` (read again from the journaled priors when not given: a retry compares with what
    was live before the deployment began)."""
    comp, host = d.component, conn.name
    pending += _verify_host(d, conn, pending)
    d.journal.steps(host=host, updates=pending)
    for tree in comp.releases:
        prior = release_name(priors.get(tree.dest))
        prune_releases(conn, tree.dest, d.limits.keep_releases, protect=[names[tree.dest], prior])
    return host_changes(comp, before if before is not None else read_host(conn, comp, priors))


def _unchanged(d: HostDelivery, conn: HostConnection, live: HostState, changes: ChangeSet) -> ChangeSet:
    """A host whose live release already holds every desired file: nothing is staged or
    switched, but the deploy commands run, in the live release (the plan put the component in
    for a reason: its commands changed, or something it depends on did); then health is verified.
    With deploy commands, the live release is journaled as the prior first (the same release): a
    rollback then runs the previous revision's deploy commands there again. Without, nothing is
    journaled and a rollback leaves the host as it is."""
    releases = ", ".join(sorted({(t.release or "")[:12] for t in live.trees}))
    ran = "deploy commands run in it" if d.component.deploy_commands else "no deploy commands"
    output = f"unchanged: files identical to the live release {releases}; nothing staged or switched; {ran}"
    d.progress(f"{conn.name}: {output}")
    if d.component.deploy_commands:  # write-ahead, as for a switch: the commands change the host
        d.journal.begin_host(host=conn.name, live={t.dest: t.current for t in live.trees})
    else:
        d.journal.steps(host=conn.name, updates=[("deploy", StepStatus.RUNNING, None)])
    ran_output = "\n".join(filter(None, [output, _run_deploy_commands(d, conn)]))
    pending: list[StepUpdate] = [("deploy", StepStatus.SUCCEEDED, ran_output)]
    pending += _verify_host(d, conn, pending)
    d.journal.steps(host=conn.name, updates=pending)
    return changes


def _deploy(d: HostDelivery, conn: HostConnection, names: Mapping[str, str]) -> str:
    """Stage, switch and run the deploy commands on one host; return their output."""
    comp, host = d.component, conn.name
    try:
        for tree in comp.releases:
            d.check_cancelled()
            name = names[tree.dest]
            d.progress(f"{host}: staging {len(tree.files)} files in {release_dir(tree.dest, name)}")
            remember_release(conn, tree.dest, name)  # first: every staged release is in history
            stage_release(
                conn, dest=tree.dest, release=name, files=tree.files, content_hash=comp.content_hash
            )
        for tree in comp.releases:
            switch_current(conn, tree.dest, names[tree.dest])
    except BaseException as err:
        _deploy_failed(d, host, err)
        raise
    return _run_deploy_commands(d, conn)


def _run_deploy_commands(d: HostDelivery, conn: HostConnection) -> str:
    """Run the deploy commands in what `current` points at; their output. A failure is recorded
    on the deploy step and raised."""
    try:
        d.check_cancelled()
        d.progress(f"{conn.name}: running {len(d.component.deploy_commands)} deploy commands")
        # What they write into the release is theirs; anything added at another time is not.
        noted = before_commands(conn, [tree.dest for tree in d.component.releases])
        results = run_commands(
            conn,
            list(d.component.deploy_commands),
            cwd=_work_dir(d.component),
            env=d.env,
            timeout=d.limits.command_timeout,
            max_output=d.limits.max_output,
        )
        after_commands(conn, noted)
    except BaseException as err:
        _deploy_failed(d, conn.name, err)
        raise
    return command_outputs(results)


def _deploy_failed(d: HostDelivery, host: str, err: BaseException) -> None:
    output = "\n".join([str(err), command_outputs(getattr(err, "results", []))]).strip()
    d.journal.steps(host=host, updates=[("deploy", StepStatus.FAILED, output)])


def verify_host_health(d: HostDelivery, conn: HostConnection) -> str:
    """The component's health on one host as it is now: its health commands, then its http
    checks; the output, or HealthCheckFailed. Records nothing."""
    health = d.component.health
    results = verify_health(
        conn,
        health,
        cwd=_work_dir(d.component),
        env=d.env,
        command_timeout=min(d.limits.command_timeout, max(health.timeout_seconds, 1.0)),
        max_output=d.limits.max_output,
        heartbeat=lambda msg: _health_progress(d, conn.name, msg),
        sleep=d.wait,
    )
    # http checks go from the worker, once per host, after that host's commands have passed
    http = verify_http(
        health, label=conn.name, heartbeat=lambda msg: _health_progress(d, conn.name, msg), sleep=d.wait
    )
    return "\n".join(filter(None, [command_outputs(results), http]))


def _verify_host(d: HostDelivery, conn: HostConnection, pending: list[StepUpdate]) -> list[StepUpdate]:
    """Verify health; return the step update to record (failures are recorded at once)."""
    host, health = conn.name, d.component.health
    if not health.commands and not health.http:
        return [("health", StepStatus.SUCCEEDED, "no health checks defined")]
    d.journal.steps(host=host, updates=[*pending, ("health", StepStatus.RUNNING, None)])
    pending.clear()
    try:
        output = verify_host_health(d, conn)
    except BaseException as err:
        output = "\n".join([str(err), command_outputs(getattr(err, "results", []))]).strip()
        d.journal.steps(host=host, updates=[("health", StepStatus.FAILED, output)])
        raise
    return [("health", StepStatus.SUCCEEDED, output)]


def check_hosts(d: HostDelivery, hosts: Sequence[HostConnection]) -> None:
    """Refuse, before any host changes, a dest whose `releases` or `current` Lockstep does not
    own on any host; each refused host gets a failed deploy step naming what is in the way."""
    dests = [t.dest for t in d.component.releases]

    def problems(conn: HostConnection) -> list[str]:
        return [p for dest in dests for p in layout_problems(conn, dest, d.release)]

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


def deliver_host_component(d: HostDelivery, hosts: Sequence[HostConnection], batch: int) -> list[ChangeSet]:
    """Deliver onto `hosts`, `batch` at a time; raise the first failure after its batch ends.
    Every host's layout is checked first (`check_hosts`). One change set per host, in order."""
    check_hosts(d, hosts)
    size = max(1, batch)
    done: list[ChangeSet] = []
    for start in range(0, len(hosts), size):
        group = hosts[start : start + size]
        d.check_cancelled()
        d.progress(f"batch {start // size + 1}: {', '.join(h.name for h in group)}")
        if len(group) == 1:
            done.append(_deliver_to_host(d, group[0]))  # no thread for a batch of one (local)
        else:
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                futures = [pool.submit(_deliver_to_host, d, conn) for conn in group]
            errors = [e for e in (f.exception() for f in futures) if e is not None]
            if errors:
                raise errors[0]
            done += [f.result() for f in futures]
    return done


def require_every_host(d: HostDelivery, reaches: Sequence[HostReach]) -> list[HostConnection]:
    """The connections, if every host was reached. Else nothing has changed anywhere yet: record
    each unreached host's deploy step as failed with the reason, close the others and raise the
    error that tells the user most (a permanent one, such as a refused host key, before one a
    retry may cure)."""
    conns = [r.connection for r in reaches if r.connection is not None]
    missed = [(r.name, r.error) for r in reaches if r.error is not None]
    if not missed:
        return conns
    for conn in conns:
        conn.close()
    for host, err in missed:
        d.journal.steps(host=host, updates=[("deploy", StepStatus.FAILED, failure_reason(host, err))])
    raise next((e for _, e in missed if not getattr(e, "retryable", True)), missed[0][1])


def failure_reason(host: str, err: BaseException) -> str:
    """What a step records about a failure on `host`: `unreachable: …` for a host that could not
    be reached, else the error with the output of the commands that failed."""
    text = str(err).removeprefix(f"{host}: ") or type(err).__name__
    if isinstance(err, TargetUnreachable):
        return f"unreachable: {text}"
    return "\n".join([text, command_outputs(getattr(err, "results", []))]).strip()
