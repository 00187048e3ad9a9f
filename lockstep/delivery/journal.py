"""The journal a delivery writes as it goes: steps, and what was live before it changed a host.

The prior-release record is written BEFORE a host is changed (first write wins), so a retry after
a crash, or a compensation after a failure, always finds the way back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from lockstep.domain.journal import PriorRelease, StepUpdate
from lockstep.domain.status import StepStatus


class DeliveryJournal(Protocol):
    def begin_host(self, *, host: str, live: Mapping[str, str | None]) -> dict[str, str | None]:
        """In one write: for each dest, store what is live unless already stored (first write
        wins), and mark the host's deploy step running. Returns the stored prior per dest."""
        ...

    def priors(self) -> list[PriorRelease]: ...

    def steps(self, *, host: str, updates: Sequence[StepUpdate]) -> None:
        """Record several step states of one host in one write."""
        ...

    def step_status(self, *, host: str, action: str) -> StepStatus | None: ...


class MemoryJournal:
    """A DeliveryJournal kept in memory, for tests and previews."""

    def __init__(self) -> None:
        self._priors: dict[tuple[str, str], str | None] = {}
        self.steps_by_key: dict[tuple[str, str], tuple[StepStatus, str | None]] = {}

    def begin_host(self, *, host: str, live: Mapping[str, str | None]) -> dict[str, str | None]:
        stored = {dest: self._priors.setdefault((host, dest), previous) for dest, previous in live.items()}
        self.steps(host=host, updates=[("deploy", StepStatus.RUNNING, None)])
        return stored

    def priors(self) -> list[PriorRelease]:
        return [PriorRelease(h, d, p) for (h, d), p in self._priors.items()]

    def steps(self, *, host: str, updates: Sequence[StepUpdate]) -> None:
        for action, status, output in updates:
            self.steps_by_key[(host, action)] = (status, output)

    def step_status(self, *, host: str, action: str) -> StepStatus | None:
        entry = self.steps_by_key.get((host, action))
        return entry[0] if entry else None
