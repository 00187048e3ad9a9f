"""Keeping `lockstep dev`'s processes up: a child that dies is started again, with backoff, saying so.

Owns the restart policy (pure: how long a child ran in, how long to wait out) and the loop that
applies it to the Temporal dev server, the worker and the API. A child that exits is started
again after 1 s, then 2, 4, 8 ... (at most 30 s); one that had run for 30 s before it died
starts the count afresh. Five exits in a row, none after a stable run, mean something that
restarting cannot fix (a broken config, a port taken): the supervisor gives up, naming the
child and its log, and the caller stops the stack.

What the children are and how they start is the caller's (`lockstep.cli.dev`). Temporal's own
durability does the rest: the restarted worker picks up the deployments the dead one was
running, and an activity it was in the middle of is retried once its heartbeat times out.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lockstep.domain.errors import LockstepError


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 30.0  # a run at least this long was not a crash loop: the count restarts
    give_up_after: int = 5  # exits in a row without a stable run between them


@dataclass
class Backoff:
    """The restart count of one child under a policy."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    failures: int = 0

    def after_exit(self, ran_for: float) -> float | None:
        """Seconds to wait before starting again a child that ran `ran_for` seconds, or None when
        it has failed too often in a row to keep trying."""
        if ran_for >= self.policy.stable_after:
            self.failures = 0
        self.failures += 1
        if self.failures >= self.policy.give_up_after:
            return None
        return min(self.policy.max_delay, self.policy.first_delay * 2.0 ** (self.failures - 1))


class GaveUp(LockstepError):
    """A child kept dying right after it started."""


def exit_description(code: int) -> str:
    """`code 3`, or `code -9 (killed by SIGKILL)` for a child a signal ended."""
    if code < 0:
        try:
            return f"code {code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"code {code}"


@dataclass
class Child:
    """One supervised process: `start` launches it (and may raise LockstepError if it cannot)."""

    name: str
    log: Path
    start: Callable[[], subprocess.Popen[bytes]]
    note: str = ""  # said after a restart is announced, e.g. what survives it
    backoff: Backoff = field(default_factory=Backoff)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None


class Supervisor:
    def __init__(
        self,
        children: Sequence[Child],
        *,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = list(children)
        self._say = say
        self._clock = clock

    def start_all(self) -> None:
        """Start every child in order; a first start that fails is not retried (it raises)."""
        for child in self.children:
            self._launch(child)

    def running(self, name: str) -> bool:
        child = next(c for c in self.children if c.name == name)
        return child.process is not None and child.process.poll() is None

    def check(self) -> None:
        """Restart what is due and schedule what has died; raise GaveUp when a child keeps dying."""
        now = self._clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child)
                continue
            code = child.process.poll() if child.process is not None else None
            if code is not None:
                self._schedule(child, f"exited with {exit_description(code)}", now - child.started_at)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every running child (the last started first), then kill what outlives `grace`."""
        live = [
            (c.name, c.process)
            for c in reversed(self.children)
            if c.process is not None and c.process.poll() is None
        ]
        for _, process in live:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, process in live:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._say(f"{name} did not stop in time; killing it")
                process.kill()
                process.wait()

    def _launch(self, child: Child) -> None:
        child.restart_at = None
        child.started_at = self._clock()
        child.process = child.start()

    def _restart(self, child: Child) -> None:
        try:
            self._launch(child)
        except LockstepError as err:  # e.g. Temporal's port still taken: count it as a failed run
            child.process = None
            self._schedule(child, f"did not start again: {err}", 0.0)
            return
        self._say(f"{child.name} restarted")

    def _schedule(self, child: Child, what: str, ran_for: float) -> None:
        delay = child.backoff.after_exit(ran_for)
        if delay is None:
            policy = child.backoff.policy
            raise GaveUp(
                f"{child.name} {what}: {policy.give_up_after} failures in a row, each within "
                f"{policy.stable_after:g}s of starting; giving up and stopping everything (see {child.log})"
            )
        child.process = None
        child.restart_at = self._clock() + delay
        note = f"; {child.note}" if child.note else ""
        self._say(f"{child.name} {what}; restarting in {delay:g}s (see {child.log}){note}")
