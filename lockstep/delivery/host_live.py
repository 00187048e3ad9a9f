"""What a `host` component's files look like on each host, and what applying it would change.

TODO(issue 15): observe_host / diff_host (being written).
"""

from __future__ import annotations

from typing import Any

from lockstep.domain.changes import ChangeSet
from lockstep.domain.models import RenderedComponent
from lockstep.targets.registry import TargetRegistry


def observe_host(targets: TargetRegistry, component: RenderedComponent) -> Any:
    raise NotImplementedError("observe_host")


def diff_host(desired: RenderedComponent, live: Any, *, with_diff: bool = False) -> list[ChangeSet]:
    raise NotImplementedError("diff_host")
