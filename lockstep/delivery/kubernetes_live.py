"""What a `kubernetes` component's objects look like on the cluster, and what applying it would
change.

TODO(issue 15): observe_kubernetes / diff_kubernetes (being written).
"""

from __future__ import annotations

from typing import Any

from lockstep.domain.changes import ChangeSet
from lockstep.domain.models import RenderedComponent
from lockstep.settings import KubernetesTargetSettings


def observe_kubernetes(target: KubernetesTargetSettings, component: RenderedComponent) -> Any:
    raise NotImplementedError("observe_kubernetes")


def diff_kubernetes(desired: RenderedComponent, live: Any, *, with_diff: bool = False) -> list[ChangeSet]:
    raise NotImplementedError("diff_kubernetes")
