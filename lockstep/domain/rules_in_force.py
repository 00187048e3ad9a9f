"""The environment rules a deployment must pass: its own commit's, and those of the revision live.

A commit's `lockstep.yaml` may itself loosen the rules of the environment it deploys to (drop
`promote_from`, lower `approvals.required`). Such a change must pass the rules in force, so the
rule a deployment answers to is the stricter of the deployed commit's and the live revision's:
every `promote_from` either names, the larger number of approvals, and the live revision's
approver groups (a change that grants approval rights cannot be approved by the people it grants
them to). A loosened rule takes effect from the deployment after the one that brings it live, and
a commit that changes the rules is governed even when it changes nothing else. The live
revision's rules are the snapshot its deployment kept (`to_json`), so a force-push, a rewritten
history or another repository claiming the application cannot make them unreadable.

Pure functions over manifest specs; the prepare activity reads the manifests and the store.
Deliberately does not: decide approvals (`lockstep.domain.approvals`) or read anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class EnvironmentRules:
    """What one manifest says of one environment (None: the manifest does not name it)."""

    promote_from: str | None = None
    approvals_required: int = 0
    approver_groups: tuple[str, ...] = ()
    approvals_declared: bool = False  # the environment has an `approvals` section

    def to_json(self) -> str:
        """The snapshot kept with a deployment: its rules, in force once it is live."""
        return json.dumps(
            {
                "promote_from": self.promote_from,
                "approvals_required": self.approvals_required,
                "approver_groups": list(self.approver_groups),
                "approvals_declared": self.approvals_declared,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> EnvironmentRules:
        data = json.loads(text)
        return cls(
            promote_from=data.get("promote_from"),
            approvals_required=int(data.get("approvals_required", 0)),
            approver_groups=tuple(str(g) for g in data.get("approver_groups", [])),
            approvals_declared=bool(data.get("approvals_declared", False)),
        )


def promotion_sources(deployed: EnvironmentRules, live: EnvironmentRules | None) -> dict[str, str]:
    """Environment a commit must have succeeded in -> which manifest asks for it."""
    sources: dict[str, str] = {}
    if deployed.promote_from:
        sources[deployed.promote_from] = "the deployed commit's lockstep.yaml"
    if live is not None and live.promote_from and live.promote_from not in sources:
        sources[live.promote_from] = "the lockstep.yaml live in the environment"
    return sources


def promotion_refusal(
    *,
    environment: str,
    commit: str,
    sources: Mapping[str, str],
    succeeded_in: set[str],
    declared: set[str],
) -> str | None:
    """Why `commit` may not deploy to `environment` (promote_from not met), or None.

    `succeeded_in` holds the environments where a deployment of exactly this commit succeeded;
    `declared` those the commit's own lockstep.yaml declares.
    """
    missing = [source for source in sources if source not in succeeded_in]
    if not missing:
        return None
    first = missing[0]
    reason = (
        f"{environment} takes only commits that succeeded in {first} (promote_from: {first}, "
        f"from {sources[first]}); commit {commit[:12]} has no successful deployment in {first}"
    )
    if first not in declared:  # the commit dropped the environment the live rule names
        return (
            f"{reason}, and its lockstep.yaml no longer declares {first}: keep {first} until a commit "
            f"that promotes {environment} from its successor is live in {environment}"
        )
    return f"{reason}: deploy it to {first} first, and it is promoted from there"


def approvals_in_force(
    deployed: EnvironmentRules, live: EnvironmentRules | None
) -> tuple[int, tuple[str, ...]]:
    """(required, groups): the larger quorum, and the live revision's groups where it names any."""
    if live is None:
        return deployed.approvals_required, deployed.approver_groups
    required = max(deployed.approvals_required, live.approvals_required)
    groups = live.approver_groups if live.approvals_declared and live.approver_groups else ()
    return required, groups or deployed.approver_groups
