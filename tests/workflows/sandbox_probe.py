"""A workflow that looks at the sandbox from inside (tests/workflows/test_sandbox.py).

Kept apart from the test module so the sandbox re-imports only this and what it names.
"""

from __future__ import annotations

import inspect
import sys

from temporalio import workflow

# Imported as a worker's workflow file is (lane imports deployment, which imports governance):
# the sandbox decides what each of those is.
from workflows import drift, lane, polling

IMPORTED = (drift, lane, polling)  # what a worker registers

WORKFLOW_MODULES = (
    "workflows.deployment",
    "workflows.drift",
    "workflows.governance",
    "workflows.lane",
    "workflows.polling",
)


@workflow.defn(name="SandboxProbe")
class SandboxProbe:
    @workflow.run
    async def run(self, host_ids: dict[str, int]) -> dict[str, str]:
        """For each workflow module: `shared` if the sandbox uses the worker's own module object
        (passed through, unchecked), `reimported` if it has its own; and what a wall-clock read
        placed in `workflows.governance` meets."""
        seen = {name: self._origin(name, host_ids[name]) for name in WORKFLOW_MODULES}
        # The globals governance's own code reads, reached through the class that uses them.
        stage = next(c for c in vars(lane)["DeploymentWorkflow"].__mro__ if c.__name__ == "GovernanceStage")
        code = next(f for f in vars(stage).values() if inspect.isfunction(f))
        try:
            code.__globals__["datetime"].now()  # what a nondeterministic line there would do
            seen["clock in governance"] = "allowed"
        except Exception as err:  # the sandbox refuses it: the probe reports instead of failing
            seen["clock in governance"] = type(err).__name__
        return seen

    @staticmethod
    def _origin(name: str, host_id: int) -> str:
        module = sys.modules.get(name)  # a passed-through module may not be listed in here
        return "reimported" if module is not None and id(module) != host_id else "shared"
