"""Approval gates (SPEC §5): who may approve a deployment, and whether one more approval counts.

Owns the rules as pure functions over plain data, so the Deployment workflow can apply them in
update validators and signal handlers without I/O, and tests can check them directly. It does
not know where approvals come from (API, CLI, Temporal UI) beyond the `source` they carry, nor
does it store anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from pydantic import BaseModel, Field


class ApprovalSource(StrEnum):
    """How the approver's identity was established."""

    API_TOKEN = "api-token"  # authenticated by a bearer token through the API (or the CLI)
    TEMPORAL = "temporal-signal"  # named in a Temporal signal/update payload: trusts the cluster's ACL


class Approver(BaseModel):
    """A configured user who belongs to one of the environment's approver groups."""

    name: str
    email: str | None = None


class ApprovalGate(BaseModel):
    """What a deployment needs before its first change; resolved at plan time.

    `required` is the manifest's own number; the policy's `approvals_required` can raise it.
    `approvers` holds the eligible users (members of `groups`, or every configured user when the
    environment names no groups), each with the email that identifies a commit's author.
    """

    required: int = 0
    groups: list[str] = Field(default_factory=list)
    timeout_seconds: float = 86400.0
    approvers: list[Approver] = Field(default_factory=list)
    author_email: str = ""


class ApprovalInput(BaseModel):
    """Payload of the `approve`/`reject` signals and updates: `{"approver": ..., "comment": ...}`."""

    approver: str = ""
    comment: str = ""
    source: ApprovalSource = ApprovalSource.TEMPORAL


class ApprovalAnswer(BaseModel):
    """What an `approve`/`reject` update answers: whether it counted and where the quorum stands."""

    counted: bool
    decision: str  # approve | reject
    approvals: int
    required: int
    status: str
    message: str


class ApprovalRecord(BaseModel):
    """Input of the record_approval activity: one decision, counted or refused, with its reason."""

    deployment_id: str
    application: str
    environment: str
    approver: str
    decision: str  # approve | reject
    comment: str = ""
    source: ApprovalSource = ApprovalSource.TEMPORAL
    counted: bool = True
    reason: str = ""  # why it did not count
    at: str = ""  # ISO 8601, workflow time
    sequence: int = 0  # the n-th decision of this deployment: keys the write


class ApprovalRefused(Exception):
    """An approval or rejection that may not count; `kind` says why, for HTTP status mapping."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # not_allowed | duplicate | not_awaiting


def eligible_approvers(
    groups: Sequence[str], users: Mapping[str, tuple[Sequence[str], str | None]]
) -> list[Approver]:
    """Configured users (name -> (groups, email)) who belong to one of `groups`; every configured
    user when `groups` is empty (the environment restricts nobody; the author rule still holds)."""
    wanted = set(groups)
    return [
        Approver(name=name, email=email)
        for name, (member_of, email) in sorted(users.items())
        if not wanted or wanted & set(member_of)
    ]


def unreachable_quorum(gate: ApprovalGate, required: int, *, environment: str) -> str | None:
    """Why `required` approvals can never be gathered (too few eligible people), or None."""
    author = gate.author_email.strip().lower()
    eligible = [a.name for a in gate.approvers if not (author and (a.email or "").strip().lower() == author)]
    if len(eligible) >= required:
        return None
    groups = ", ".join(gate.groups) or "the server configuration's users"
    who = ", ".join(eligible) or "nobody"
    return (
        f"{environment} needs {required} approval(s) but only {len(eligible)} user(s) may give them "
        f"({who}, from {groups}; the commit's author never counts): add approvers to the server "
        "configuration's users"
    )


def quorum(gate: ApprovalGate, policy_required: int) -> int:
    """The larger of the manifest's `required` and the policy's `approvals_required`."""
    return max(gate.required, policy_required, 0)


def check_decision(
    gate: ApprovalGate, approved_by: list[str], request: ApprovalInput, *, environment: str
) -> Approver:
    """The eligible approver behind `request`; raises ApprovalRefused naming why it cannot count.

    Only configured members of the environment's groups count, never the commit's author
    (matched by email, case-insensitively), and each person once.
    """
    name = request.approver.strip()
    if not name:
        raise ApprovalRefused('the approval names no approver (payload {"approver": ...})', "not_allowed")
    approver = next((a for a in gate.approvers if a.name == name), None)
    if approver is None:
        groups = ", ".join(gate.groups) or "any group"
        raise ApprovalRefused(
            f"{name} may not approve {environment}: not a member of {groups}", "not_allowed"
        )
    author = gate.author_email.strip().lower()
    if author and approver.email and approver.email.strip().lower() == author:
        raise ApprovalRefused(
            f"{name} is the author of this commit ({gate.author_email}) and may not approve it",
            "not_allowed",
        )
    if name in approved_by:
        raise ApprovalRefused(f"{name} has already approved this deployment", "duplicate")
    return approver
