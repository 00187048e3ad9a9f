"""The journal a delivery writes as it goes: steps, and what was live before it changed a host.

The prior-release record is written BEFORE a host is changed (first write wins), so a retry after
a crash, or a compensation after a failure, always finds the way back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lockstep.domain.status import StepStatus


@dataclass(frozen=True)
class PriorRelease:
    host: str
    dest: str
    previous: str | None


class DeliveryJournal(Protocol):
    def record_prior(self, *, host: str, dest: str, previous: str | None) -> str | None:
        """Store what was live on host/dest unless already stored; return the stored value."""
        ...

    def priors(self) -> list[PriorRelease]: ...

    def step(self, *, host: str, action: str, status: StepStatus, output: str | None = None) -> None: ...

    def step_status(self, *, host: str, action: str) -> StepStatus | None: ...


class MemoryJournal:
    """A DeliveryJournal kept in memory, for tests and previews."""

    def __init__(self) -> None:
        self._priors: dict[tuple[str, str], str | None] = {}
        self.steps: dict[tuple[str, str], tuple[StepStatus, str | None]] = {}

    def record_prior(self, *, host: str, dest: str, previous: str | None) -> str | None:
        return self._priors.setdefault((host, dest), previous)

    def priors(self) -> list[PriorRelease]:
        return [PriorRelease(h, d, p) for (h, d), p in self._priors.items()]

    def step(self, *, host: str, action: str, status: StepStatus, output: str | None = None) -> None:
        self.steps[(host, action)] = (status, output)

    def step_status(self, *, host: str, action: str) -> StepStatus | None:
        entry = self.steps.get((host, action))
        return entry[0] if entry else None
