"""What a delivery's journal records: step states, and what was live before a host changed.

Shared by the delivery that writes them (`lockstep.delivery.journal.DeliveryJournal`) and the
store that keeps them (`lockstep.store.journal`), neither of which imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from lockstep.domain.status import StepStatus


@dataclass(frozen=True)
class PriorRelease:
    """The release live at `dest` on `host` before the delivery changed it (None: nothing was)."""

    host: str
    dest: str
    previous: str | None


StepUpdate = tuple[str, StepStatus, str | None]  # (action, status, output)
