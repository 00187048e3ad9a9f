"""Policy decisions as they travel through Temporal and into the system of record.

A decision records what the engine said (deny and warn reasons, approvals required), which engine
said it, over which bundle revision and for which input (its canonical sha256), so an audit can
tell exactly what was evaluated. This module holds data only: evaluating policy is
`lockstep.policy`'s job. Fields added later must have defaults: decisions live in workflow
histories.
"""

from __future__ import annotations

from pydantic import BaseModel


class PolicyDecision(BaseModel):
    """The outcome of `data.lockstep.deploy` (policies/README.md). Any deny reason blocks the deployment."""

    deny: list[str]
    warn: list[str]
    approvals_required: int
    engine: str
    bundle_revision: str
    input_sha256: str

    @property
    def denied(self) -> bool:
        return bool(self.deny)


class DriftDecision(BaseModel):
    """The outcome of `data.lockstep.drift` for one drift item: remediate it, ignore it, or (both
    false) only flag it."""

    remediate: bool
    ignore: bool = False
    reasons: list[str]
    engine: str
    bundle_revision: str
    input_sha256: str
