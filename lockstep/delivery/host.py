"""Delivering a `host` component as a release onto every host of a target, in batches.

Per host: record what `current` points at (write-ahead, first write wins), stage the files under
`releases/<commit>`, switch `current` atomically, run `deploy` in the new release, then verify
health. A host whose deploy step already succeeded for this deployment and whose `current`
already points at the release is not redeployed (a retried activity converges). A failing host
stops the rollout after its batch; putting hosts back is `rollback_host_component`'s job, driven
by the journal, so even a half-changed host has a recorded way back. A deploy needs every host
(`require_every_host`); a rollback takes each host on its own, so one that is down or hung
keeps no other on the failed release.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lockstep.delivery.host_live import HostState, host_changes, read_host, unchanged_release
from lockstep.delivery.journal import DeliveryJournal
from lockstep.domain.changes import Change, ChangeAction, ChangeSet
from lockstep.domain.errors import DeploymentStepFailed, LockstepError, TargetUnreachable
from lockstep.domain.journal import PriorRelease, StepUpdate
from lockstep.domain.models import RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.health.commands import verify_health
from lockstep.health.http import verify_http
from lockstep.targets.host import CommandResult, HostConnection, HostReach
from lockstep.targets.host_commands import run_commands
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


def _deliver_to_host(d: HostDelivery, conn: HostConnection) -> ChangeSet:
    comp, host = d.component, conn.name
    live = {t.dest: current_release(conn, t.dest) for t in comp.releases}
    before: HostState | None = None
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
        before = read_host(conn, comp, live)
        changes = host_changes(comp, before)
        if unchanged_release(before, changes) and not any(p.host == host for p in d.journal.priors()):
            return _unchanged(d, conn, before, changes)  # (a host this deployment began is finished)
        priors = d.journal.begin_host(host=host, live=live)  # write-ahead: before any change
        pending = [("deploy", StepStatus.SUCCEEDED, _deploy(d, conn))]
    pending += _verify_host(d, conn, pending)
    d.journal.steps(host=host, updates=pending)
    for tree in comp.releases:
        prior = release_name(priors.get(tree.dest))
        prune_releases(conn, tree.dest, d.limits.keep_releases, protect=[d.release, prior])
    if before is None or priors != live:  # a retry: compare with what was live before it began
        before = read_host(conn, comp, priors)
    return host_changes(comp, before)


def _unchanged(d: HostDelivery, conn: HostConnection, live: HostState, changes: ChangeSet) -> ChangeSet:
    """A host whose live release already holds every desired file: nothing is staged, switched
    or run, and no prior release is journaled (there is nothing to roll back); health is still
    verified."""
    releases = ", ".join(sorted({(t.release or "")[:12] for t in live.trees}))
    output = f"unchanged: files identical to the live release {releases}; nothing staged or switched"
    d.progress(f"{conn.name}: {output}")
    pending: list[StepUpdate] = [
        ("deploy", StepStatus.RUNNING, None),
        ("deploy", StepStatus.SUCCEEDED, output),
    ]
    pending += _verify_host(d, conn, pending)
    d.journal.steps(host=conn.name, updates=pending)
    return changes


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
    return "\n".join(filter(None, [_outputs(results), http]))


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
        output = "\n".join([str(err), _outputs(getattr(err, "results", []))]).strip()
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
        d.journal.steps(host=host, updates=[("deploy", StepStatus.FAILED, _reason(host, err))])
    raise next((e for _, e in missed if not getattr(e, "retryable", True)), missed[0][1])


class RollbackIncomplete(DeploymentStepFailed):
    """Hosts this deployment changed that could not be put back; `hosts` maps each to why."""

    def __init__(self, hosts: Mapping[str, str], *, total: int) -> None:
        self.hosts = dict(hosts)
        named = [f"{host} ({why.splitlines()[0] if why else 'failed'})" for host, why in self.hosts.items()]
        more = len(named) - _NAMED_HOSTS
        listed = "; ".join(named[:_NAMED_HOSTS]) + (f"; and {more} more (see the steps)" if more > 0 else "")
        super().__init__(f"not rolled back on {len(self.hosts)} of {total} hosts: {listed}")


@dataclass(frozen=True)
class HostRollback:
    hosts: list[str]  # every host the journal says this deployment touched
    changed: bool  # whether anything was (or, in an earlier attempt, may have been) put back
    detail: str
    changes: list[ChangeSet]  # per host: each `<dest>/current` put back (configured) or not


_NAMED_HOSTS = 10  # hosts a RollbackIncomplete names; their steps list all of them
_RETRY_FIRST, _RETRY_MAX = 1.0, 30.0  # seconds between rounds of reconnecting: doubling, capped


def rollback_host_component(
    d: HostDelivery,
    connect: Callable[[Sequence[str]], Sequence[HostReach]],
    deploy_commands_for: Callable[[str], Sequence[str]],
    *,
    batch: int = 1,
    patience: float = 0.0,
    stop: threading.Event | None = None,
) -> HostRollback:
    """Put every host this deployment touched back on the release recorded before it.

    Only hosts the journal has a prior release for are connected (`connect(labels)` tries each
    on its own): a component refused before its first change has none, so nothing is connected
    and nothing changes. Each host's outcome is its `rollback` step. A host that cannot be
    reached, or drops mid-way, holds up no other; it is tried again, after growing pauses, until
    `patience` seconds have passed or `stop` is set. Hosts go back `batch` at a time, as they
    were deployed. A host an earlier attempt of this rollback already put back is left alone:
    it converged. Raises RollbackIncomplete naming every host it could not put back.

    `deploy_commands_for(release)` gives the deploy commands of the release switched back to;
    they run again there, once per host, as after any deploy. They are worked out before any
    switch, and run when this attempt switched something or an earlier attempt of the rollback
    on that host did not finish (it may have switched, then died before the commands).
    """
    priors: dict[str, list[PriorRelease]] = {}
    for prior in d.journal.priors():
        priors.setdefault(prior.host, []).append(prior)
    if not priors:
        d.progress("nothing to roll back: no host was changed")
        return HostRollback(
            hosts=[], changed=False, detail="nothing to roll back: no host was changed", changes=[]
        )
    run = _HostsRollback(d, priors, deploy_commands_for)
    pending = [host for host in priors if run.before[host] != StepStatus.SUCCEEDED]
    deadline = time.monotonic() + max(0.0, patience)
    pause = _RETRY_FIRST
    while pending:
        pending = run.attempt(connect(pending), pending, max(1, batch))
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            break
        d.progress(f"cannot reach {', '.join(pending)}; trying again for up to {remaining:.0f} s")
        if _stopped_while_waiting(stop, min(pause, remaining)):
            break
        pause = min(pause * 2, _RETRY_MAX)
    failed = run.failed | {host: run.unreachable[host] for host in pending}
    if failed:
        raise RollbackIncomplete(failed, total=len(priors))
    # A host with a rollback step from an earlier attempt may have been switched by it.
    changed = run.changed or any(status is not None for status in run.before.values())
    back = ", ".join(priors)
    return HostRollback(
        hosts=list(priors),
        changed=changed,
        detail=f"back on the previous release: {back}",
        changes=[run.change_set(host) for host in priors],
    )


class _HostsRollback:
    """The state of one rollback activity across its rounds of reconnecting."""

    def __init__(
        self,
        d: HostDelivery,
        priors: dict[str, list[PriorRelease]],
        deploy_commands_for: Callable[[str], Sequence[str]],
    ) -> None:
        self.d = d
        self.priors = priors
        self.deploy_commands_for = functools.cache(deploy_commands_for)  # one rendering per release
        # Read before this attempt writes anything: what an earlier attempt left on each host.
        self.before = {host: d.journal.step_status(host=host, action="rollback") for host in priors}
        self.begun: set[str] = set()
        self.changed = False
        self.failed: dict[str, str] = {}  # host -> why, for good
        self.unreachable: dict[str, str] = {}  # host -> why, as last seen: worth another try
        self.changes: dict[str, list[Change]] = {}  # host -> what this attempt did to its links

    def change_set(self, host: str) -> ChangeSet:
        """What was put back on `host`. A host an earlier attempt of this rollback already
        worked on may have been switched by it: its links count as configured."""
        earlier = self.before[host] is not None
        changes = self.changes.get(host) or [
            Change(subject=f"{p.dest}/current", action=ChangeAction.UNCHANGED) for p in self.priors[host]
        ]
        if earlier and not any(c.action != ChangeAction.UNCHANGED for c in changes):
            changes = [
                Change(
                    subject=c.subject,
                    action=ChangeAction.CONFIGURED,
                    summary="put back by an earlier attempt",
                )
                for c in changes
            ]
        return ChangeSet(location=host, changes=changes)

    def attempt(self, reaches: Sequence[HostReach], asked: Sequence[str], batch: int) -> list[str]:
        """Roll back the reached hosts, batch by batch; return those worth trying again."""
        conns = {r.name: r.connection for r in reaches if r.connection is not None}
        retry: list[str] = []
        try:
            seen = {r.name for r in reaches}
            errors: list[tuple[str, BaseException]] = [
                (r.name, r.error) for r in reaches if r.error is not None
            ]
            errors += [
                (h, LockstepError(f"{h}: not among the target's hosts")) for h in asked if h not in seen
            ]
            for host, err in errors:
                self._failed(host, err, retry)
            ready = list(conns)  # in the order `connect` gives: the target's, as they were deployed
            for start in range(0, len(ready), batch):
                group = ready[start : start + batch]
                for host, error in _each(group, lambda host: self._host(conns[host])):
                    if error is not None:
                        self._failed(host, error, retry)
        finally:
            for conn in conns.values():
                conn.close()
        return retry

    def _failed(self, host: str, err: BaseException, retry: list[str]) -> None:
        why = _reason(host, err)
        self.d.journal.steps(host=host, updates=[("rollback", StepStatus.FAILED, why)])
        if getattr(err, "retryable", False):
            self.unreachable[host] = why
            retry.append(host)
        else:
            self.failed[host] = why

    def _host(self, conn: HostConnection) -> None:
        """Switch one host back and run the deploy commands there; record its step."""
        d, host, priors = self.d, conn.name, self.priors[conn.name]
        unfinished = self.before[host] in (StepStatus.RUNNING, StepStatus.FAILED) or host in self.begun
        # Deploy commands rerun only for a Lockstep release: a foreign link is restored as it was.
        anchor = next((p for p in priors if release_name(p.previous) is not None), None)
        commands = list(self.deploy_commands_for(anchor.previous)) if anchor and anchor.previous else []
        self.begun.add(host)
        d.journal.steps(host=host, updates=[("rollback", StepStatus.RUNNING, None)])
        changed = [rollback_release(conn, dest=p.dest, previous=p.previous) for p in priors]
        self.changed = self.changed or any(changed)
        self.changes[host] = [
            Change(
                subject=f"{p.dest}/current",
                action=ChangeAction.CONFIGURED if c else ChangeAction.UNCHANGED,
                summary=f"-> {_shown(p.previous)}",
            )
            for p, c in zip(priors, changed, strict=True)
        ]
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
        detail = "; ".join(
            f"{p.dest}/current -> {_shown(p.previous)}" if c else f"{p.dest}: unchanged"
            for p, c in zip(priors, changed, strict=True)
        )
        output = "\n".join([detail, _outputs(results)]).strip()
        d.journal.steps(host=host, updates=[("rollback", StepStatus.SUCCEEDED, output)])


def _each(hosts: Sequence[str], work: Callable[[str], None]) -> list[tuple[str, Exception | None]]:
    """Run `work` for every host at once (no thread for one); each host's error, or None."""

    def attempt(host: str) -> Exception | None:
        try:
            work(host)
        except Exception as err:
            return err
        return None

    if len(hosts) == 1:
        return [(hosts[0], attempt(hosts[0]))]
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        return list(zip(hosts, pool.map(attempt, hosts), strict=True))


def _stopped_while_waiting(stop: threading.Event | None, seconds: float) -> bool:
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


def _reason(host: str, err: BaseException) -> str:
    """What a step records about a failure on `host`: `unreachable: …` for a host that could not
    be reached, else the error with the output of the commands that failed."""
    text = str(err).removeprefix(f"{host}: ") or type(err).__name__
    if isinstance(err, TargetUnreachable):
        return f"unreachable: {text}"
    return "\n".join([text, _outputs(getattr(err, "results", []))]).strip()


def _shown(previous: str | None) -> str:
    """A recorded prior as a person reads it: the release, the link target, or `(removed)`."""
    if previous is None:
        return "(removed)"
    return previous if release_name(previous) else previous.removeprefix(FOREIGN_LINK)
