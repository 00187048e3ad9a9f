"""Putting every host a deployment changed back on the release recorded before it.

Driven by the journal that `lockstep.delivery.host` writes ahead of any change: only hosts with a
prior release are connected, each on its own, so one that is down or hung keeps no other on the
failed release; it is tried again, after growing pauses, within the rollback's patience. Each
host's `current` is put back exactly as recorded, and the deploy commands of the component's
previous live revision (the store's, before this deployment; else those of the release switched
back to) run there again. A host delivered as unchanged whose deploy commands ran has its live
release as its prior: nothing is switched back, but those commands run again there too (the
deployment's own commands changed the host). Without deploy commands, such a host has no prior
and a rollback leaves it as it is.

Deliberately does not deliver, stage releases or verify health (`lockstep.delivery.host`), nor
decide whether a deployment is rolled back (the workflow does).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lockstep.delivery.host import HostDelivery, command_outputs, failure_reason
from lockstep.delivery.host_live import host_changes, read_host, unchanged_release
from lockstep.domain.changes import Change, ChangeAction, ChangeSet
from lockstep.domain.errors import DeploymentStepFailed, LockstepError
from lockstep.domain.journal import PriorRelease
from lockstep.domain.status import StepStatus
from lockstep.targets.host import CommandResult, HostConnection, HostReach
from lockstep.targets.host_commands import run_commands
from lockstep.targets.release_layout import FOREIGN_LINK, commit_of, release_name
from lockstep.targets.release_written import after_commands, before_commands
from lockstep.targets.releases import current_link, current_release, rollback_release


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
    previous_commit: Callable[[], str | None] = lambda: None,
) -> HostRollback:
    """Put every host this deployment touched back on the release recorded before it.

    Only hosts the journal has a prior release for are connected (`connect(labels)` tries each
    on its own): a component refused before its first change has none, so nothing is connected
    and nothing changes. Each host's outcome is its `rollback` step. A host that cannot be
    reached, or drops mid-way, holds up no other; it is tried again, after growing pauses, until
    `patience` seconds have passed or `stop` is set. Hosts go back `batch` at a time, as they
    were deployed. A host an earlier attempt of this rollback already put back is left alone:
    it converged. Raises RollbackIncomplete naming every host it could not put back.

    `deploy_commands_for(commit)` gives the deploy commands of a commit; those of
    `previous_commit()` (the component's live revision before this deployment, None: there is
    none) run again on a host put back, else those of the release switched back to; once per
    host, with that commit as LOCKSTEP_COMMIT, as after any deploy. Both are asked only when a
    host is to run them, and before it is switched. They run when this attempt switches
    something, when an earlier attempt of the rollback on that host did not finish (it may have
    switched, then died before the commands), or when the host was delivered as unchanged (its
    prior is its live release and holds the desired files: the deployment's commands ran there).
    """
    priors: dict[str, list[PriorRelease]] = {}
    for prior in d.journal.priors():
        priors.setdefault(prior.host, []).append(prior)
    if not priors:
        d.progress("nothing to roll back: no host was changed")
        return HostRollback(
            hosts=[], changed=False, detail="nothing to roll back: no host was changed", changes=[]
        )
    run = _HostsRollback(d, priors, deploy_commands_for, previous_commit)
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
        previous_commit: Callable[[], str | None],
    ) -> None:
        self.d = d
        self.priors = priors
        self.deploy_commands_for = functools.cache(deploy_commands_for)  # one rendering per commit
        self.previous_commit = functools.cache(previous_commit)  # one look at the store
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
        why = failure_reason(host, err)
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
        to_switch = any(current_release(conn, p.dest) != p.previous for p in priors)
        kept = anchor is not None and not to_switch and not unfinished and self._kept(conn, priors)
        commit, commands = "", []
        if anchor and anchor.previous and (to_switch or unfinished or kept):  # before any switch
            commit = self.previous_commit() or commit_of(anchor.previous)
            commands = list(self.deploy_commands_for(commit))
        self.begun.add(host)
        d.journal.steps(host=host, updates=[("rollback", StepStatus.RUNNING, None)])
        changed = [rollback_release(conn, dest=p.dest, previous=p.previous) for p in priors]
        if anchor and anchor.previous and any(changed) and not commit:  # switched after all
            commit = self.previous_commit() or commit_of(anchor.previous)
            commands = list(self.deploy_commands_for(commit))
        rerun = bool(commit) and (any(changed) or unfinished or kept)
        self.changed = self.changed or any(changed) or rerun
        self.changes[host] = [
            _change(p, c, rerun and (c or p is anchor), commit) for p, c in zip(priors, changed, strict=True)
        ]
        results: list[CommandResult] = []
        if anchor and rerun:
            d.progress(
                f"{host}: on {_shown(anchor.previous)[:12]}, running the deploy commands of {commit[:12]}"
            )
            noted = before_commands(conn, [p.dest for p in priors])  # (`release_written`)
            results = run_commands(
                conn,
                commands,
                cwd=current_link(anchor.dest),
                env={**d.env, "LOCKSTEP_COMMIT": commit},
                timeout=d.limits.command_timeout,
                max_output=d.limits.max_output,
            )
            after_commands(conn, noted)
        detail = "; ".join(
            f"{p.dest}/current -> {_shown(p.previous)}" if c else f"{p.dest}: unchanged"
            for p, c in zip(priors, changed, strict=True)
        )
        if rerun:
            detail += f"; deploy commands of {commit[:12]} run again"
        output = "\n".join([detail, command_outputs(results)]).strip()
        d.journal.steps(host=host, updates=[("rollback", StepStatus.SUCCEEDED, output)])

    def _kept(self, conn: HostConnection, priors: Sequence[PriorRelease]) -> bool:
        """Whether the host was delivered as unchanged: nothing to switch back, and the release it
        is on already holds the desired files (else its staging failed before any switch, and no
        deploy command of this deployment ran there)."""
        state = read_host(conn, self.d.component, {p.dest: p.previous for p in priors})
        return unchanged_release(state, host_changes(self.d.component, state))


def _change(prior: PriorRelease, switched: bool, reran: bool, commit: str) -> Change:
    """A host's `<dest>/current` after the rollback: configured if switched back or if the deploy
    commands ran again in it (the release it never left)."""
    summary = f"-> {_shown(prior.previous)}" if switched else f"{_shown(prior.previous)} kept"
    if reran:
        summary += f"; deploy commands of {commit[:12]} run again"
    action = ChangeAction.CONFIGURED if switched or reran else ChangeAction.UNCHANGED
    return Change(subject=f"{prior.dest}/current", action=action, summary=summary)


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


def _shown(previous: str | None) -> str:
    """A recorded prior as a person reads it: the release, the link target, or `(removed)`."""
    if previous is None:
        return "(removed)"
    return previous if release_name(previous) else previous.removeprefix(FOREIGN_LINK)
