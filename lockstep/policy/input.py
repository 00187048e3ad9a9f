"""The policy input document (policies/README.md) and its canonical hash.

`deploy_input` is the only place that decides what a deployment policy can see; `input_sha256`
identifies an input in decisions and audit records. Both are pure: they read nothing and decide
nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lockstep.domain.models import CommitInfo, Plan, PlannedComponent


def deploy_input(
    *,
    application: str,
    environment: str,
    commit: CommitInfo,
    trigger: str,
    actor: str | None,
    groups: Sequence[str] = (),
    plan: Plan,
    approvals: list[dict[str, str]],
    now: str,
) -> dict[str, Any]:
    """The input of `data.lockstep.deploy`: the deployment as the policy sees it.

    `groups` are the actor's groups in the server configuration, given only for an actor a token
    authenticated (anyone else's name is a claim, and grants nothing). `now` is an RFC 3339 time
    chosen by the caller (in a workflow, `workflow.now()`), so the same
    deployment always evaluates against the same instant, on replay too.
    """
    return {
        "application": application,
        "environment": environment,
        "commit": {
            "sha": commit.sha,
            "author": commit.author,
            "author_email": commit.author_email,
            "message": commit.message,
            "timestamp": commit.timestamp,
        },
        "trigger": {"kind": trigger, "actor": actor, "groups": sorted(groups)},
        "plan": {
            "components": [_component(c) for c in plan.components],
            "waves": [list(wave) for wave in plan.waves],
        },
        "approvals": [dict(a) for a in approvals],
        "now": now,
    }


def _component(c: PlannedComponent) -> dict[str, Any]:
    """One planned component. A kubernetes one lists its objects where they land (`namespace`
    null for a cluster-scoped kind) and the target's own namespace; a host one its release folders
    and the commands it runs there (deploy, then health), all as rendered. Each says what
    delivering it would change (`changes`)."""
    document: dict[str, Any] = {
        "name": c.name,
        "kind": c.kind,
        "target": c.target,
        "action": c.action.value,
        "images": list(c.images),
        # What delivering it would change, looked at on its target while planning: counts per
        # action, null when it could not be looked at (`unreachable` names where).
        "changes": dict(c.change_counts) if c.change_counts is not None else None,
        "unreachable": list(c.unreachable),
    }
    if c.kind == "kubernetes":
        document["target_namespace"] = c.target_namespace
        document["objects"] = [o.model_dump(mode="json") for o in c.objects]
    else:
        document["dests"] = list(c.dests)
        document["commands"] = list(c.commands)
    return document


def rfc3339(moment: datetime) -> str:
    """`input.now` as the policies read it: whole seconds, UTC, `Z` suffix."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def canonical_json(value: Mapping[str, Any]) -> str:
    """JSON with sorted keys and no insignificant whitespace: equal inputs, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def input_sha256(value: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a policy input."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
