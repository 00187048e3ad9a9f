"""Planning: pure functions over the dependency graph and the live revisions.

`graph` owns cycles, waves and dependents; `plan` owns change detection and why each component is
in a plan. Nothing here performs I/O or imports anything of the project beyond `lockstep.domain`.
"""

from lockstep.planning.graph import dependents_closure, find_cycle, waves
from lockstep.planning.plan import describe_plan, make_plan

__all__ = ["dependents_closure", "describe_plan", "find_cycle", "make_plan", "waves"]
