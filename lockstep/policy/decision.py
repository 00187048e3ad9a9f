"""Turning a raw engine result into a decision, and any failure into a closed one.

Both engines hand their raw `data.lockstep.deploy` / `data.lockstep.drift` document here, so the
two agree on what a well-formed result is: `deny` must be present and a list (a Rego set) of
strings; `warn` (list of strings) and `approvals_required` (a non-negative integer) may be absent,
meaning none and 0 — the manifest's own approval count still applies (policies/README.md). Anything else is
malformed. A failure never raises: it becomes a decision that denies (deploy) or does not remediate
(drift), with one reason naming the engine and the cause. Reasons are sorted: Rego sets have no order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lockstep.domain.policy import DriftDecision, PolicyDecision


class PolicyFailure(Exception):
    """Why an engine could not produce a decision; `str()` completes "policy engine X ..."."""


def _strings(result: dict[str, Any], key: str, *, required: bool) -> list[str]:
    if key not in result:
        if required:
            raise PolicyFailure(f"returned a malformed decision: it has no {key!r} set")
        return []
    value = result[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyFailure(f"returned a malformed decision: {key!r} is not a set of strings: {value!r:.200}")
    return sorted(set(value))


def _approvals(result: dict[str, Any]) -> int:
    value: object = result.get("approvals_required", 0)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyFailure(
            "returned a malformed decision: 'approvals_required' is not a non-negative integer: "
            f"{value!r:.200}"
        )
    return value


def _document(result: Any, query: str) -> dict[str, Any]:
    if result is None:
        raise PolicyFailure(f"returned an undefined decision for {query} (is that package in the bundle?)")
    if not isinstance(result, dict):
        raise PolicyFailure(f"returned a malformed decision: {query} is not an object: {result!r:.200}")
    return result


def deploy_decision(result: Any, *, engine: str, revision: str, input_sha256: str) -> PolicyDecision:
    """Validate a `data.lockstep.deploy` document (None when undefined); raise `PolicyFailure`."""
    doc = _document(result, "data.lockstep.deploy")
    return PolicyDecision(
        deny=_strings(doc, "deny", required=True),
        warn=_strings(doc, "warn", required=False),
        approvals_required=_approvals(doc),
        engine=engine,
        bundle_revision=revision,
        input_sha256=input_sha256,
    )


def drift_decision(result: Any, *, engine: str, revision: str, input_sha256: str) -> DriftDecision:
    """Validate a `data.lockstep.drift` document (None when undefined); raise `PolicyFailure`."""
    doc = _document(result, "data.lockstep.drift")
    remediate = doc.get("remediate")
    if not isinstance(remediate, bool):
        raise PolicyFailure(
            f"returned a malformed decision: 'remediate' is not a boolean: {remediate!r:.200}"
        )
    ignore = doc.get("ignore", False)
    if not isinstance(ignore, bool):
        raise PolicyFailure(f"returned a malformed decision: 'ignore' is not a boolean: {ignore!r:.200}")
    return DriftDecision(
        remediate=remediate,
        ignore=ignore,
        reasons=_strings(doc, "reasons", required=False),
        engine=engine,
        bundle_revision=revision,
        input_sha256=input_sha256,
    )


def closed_deploy(label: str, cause: str, *, engine: str, revision: str, input_sha256: str) -> PolicyDecision:
    """The decision of an engine that failed: denied, with one reason naming engine and cause."""
    return PolicyDecision(
        deny=[f"{label} {cause}"],
        warn=[],
        approvals_required=0,
        engine=engine,
        bundle_revision=revision,
        input_sha256=input_sha256,
    )


def closed_drift(label: str, cause: str, *, engine: str, revision: str, input_sha256: str) -> DriftDecision:
    """The drift decision of an engine that failed: do not remediate, and say why."""
    return DriftDecision(
        remediate=False,
        reasons=[f"{label} {cause}"],
        engine=engine,
        bundle_revision=revision,
        input_sha256=input_sha256,
    )


DecisionT = TypeVar("DecisionT", PolicyDecision, DriftDecision)


@dataclass(frozen=True)
class Rule(Generic[DecisionT]):
    """One document an engine is asked for: its package, how a result becomes a decision, and
    what a failure decides."""

    package: str  # under data.lockstep
    decide: Callable[..., DecisionT]
    closed: Callable[..., DecisionT]


DEPLOY = Rule[PolicyDecision]("deploy", deploy_decision, closed_deploy)
DRIFT = Rule[DriftDecision]("drift", drift_decision, closed_drift)


def fail_closed(
    rule: Rule[DecisionT],
    query: Callable[[], tuple[Any, str]],
    *,
    label: str,
    engine: str,
    input_sha256: str,
    revision_if_failed: Callable[[], str],
) -> DecisionT:
    """`rule`'s decision from `query` (raw result, bundle revision it used); any failure, in the
    query or in the result, is `rule`'s closed decision."""
    try:
        result, revision = query()
    except PolicyFailure as e:
        return rule.closed(
            label, str(e), engine=engine, revision=revision_if_failed(), input_sha256=input_sha256
        )
    try:
        return rule.decide(result, engine=engine, revision=revision, input_sha256=input_sha256)
    except PolicyFailure as e:
        return rule.closed(label, str(e), engine=engine, revision=revision, input_sha256=input_sha256)
