"""Approval gates (docs/approvals.md): who may approve a deployment, and whether one more approval counts.

Owns the rules as pure functions over plain data, so the Deployment workflow can apply them in
update validators and signal handlers without I/O, and tests can check them directly. It does
not know where approvals come from (API, CLI, Temporal UI) beyond the `source` they carry, nor
does it store anything.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from pydantic import BaseModel, Field

from lockstep.domain.status import DeploymentStatus


class ApprovalSource(StrEnum):
    """How the approver's identity was established."""

    API_TOKEN = "api-token"  # authenticated by a bearer token through the API (or the CLI)
    TEMPORAL = "temporal-signal"  # named in a Temporal signal/update payload: trusts the cluster's ACL


class Approver(BaseModel):
    """A configured user who belongs to one of the environment's approver groups."""

    name: str
    email: str | None = None


class ChangeAuthor(BaseModel):
    """Someone who wrote or committed part of the change a deployment brings live."""

    email: str  # as the commit records it
    commit: str  # the newest commit of the change that names them
    role: str  # author | committer


class ApprovalGate(BaseModel):
    """What a deployment needs before its first change; resolved at plan time.

    `required` is the manifest's own number; the policy's `approvals_required` can raise it.
    `approvers` holds the eligible users (members of `groups`), each with the email that
    identifies a commit's author. `authors` are the authors and committers of every commit
    between the revision live in the environment and the deployed one; gates resolved before
    that existed carry only the head commit's `author_email`.
    """

    required: int = 0
    groups: list[str] = Field(default_factory=list)
    timeout_seconds: float = 86400.0
    approvers: list[Approver] = Field(default_factory=list)
    author_email: str = ""
    configured: list[str] = Field(default_factory=list)  # every configured user, for clear refusals
    authors: list[ChangeAuthor] = Field(default_factory=list)
    authors_note: str = ""  # how the change was delimited, e.g. capped on a first deployment


# A comment may span lines, but holds no other control character (PostgreSQL text cannot hold NUL).
COMMENT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


class ApprovalInput(BaseModel):
    """Payload of the `approve`/`reject` signals and updates: `{"approver": ..., "comment": ...}`."""

    # No control characters: a name is shown in terminals and tables, and stored (PostgreSQL text
    # cannot hold NUL); a comment may span lines.
    approver: str = Field("", max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")
    comment: str = Field("", max_length=4096, pattern=COMMENT_PATTERN)
    source: ApprovalSource = ApprovalSource.TEMPORAL
    # The API's signature over (deployment, decision, approver), so the worker can tell a decision
    # that came through the API from one sent straight to Temporal that merely claims to (see
    # lockstep.security.approval_signing). Empty on the Temporal path.
    proof: str = Field("", max_length=4096)


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
    sequence: int = 0  # the n-th decision of this deployment run: keys the write
    proof: str = ""  # the API's signature, checked by the activity before it records source api-token


@dataclass(frozen=True)
class ApprovalEntry:
    """One decision as the Deployment workflow keeps it: counted or refused, and why.

    On the wire (`DeploymentView.approvals`, the `status` query of running workflows, the API and
    the CLI) it is `to_dict()`: the same keys, all strings, `counted` "true" or "false".
    """

    approver: str
    decision: str  # approve | reject
    at: str  # ISO 8601, workflow time
    comment: str
    source: str  # an ApprovalSource value: claimed at first, then what the worker could verify
    counted: bool
    reason: str  # why it did not count, or why it was not recorded

    def to_dict(self) -> dict[str, str]:
        return {
            "approver": self.approver,
            "decision": self.decision,
            "at": self.at,
            "comment": self.comment,
            "source": self.source,
            "counted": "true" if self.counted else "false",
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, entry: Mapping[str, str]) -> ApprovalEntry:
        """The entry `to_dict` gave (a missing key reads as empty, as views from before it had
        them show it)."""
        return cls(
            approver=entry.get("approver", ""),
            decision=entry.get("decision", ""),
            at=entry.get("at", ""),
            comment=entry.get("comment", ""),
            source=entry.get("source", ""),
            counted=entry.get("counted") == "true",
            reason=entry.get("reason", ""),
        )

    def unrecorded(self, cause: str) -> ApprovalEntry:
        """This decision once the store could not take it: an approval missing from the audit
        trail must not count, so a counted one is withdrawn (a rejection stands: stopping is the
        safe side); any other says it was not recorded."""
        if self.counted and self.decision == "approve":
            why = f"could not be recorded, so it does not count (send it again): {cause}"
            return replace(self, counted=False, reason=why[:1000])
        return replace(self, reason=(self.reason + "; " if self.reason else "") + f"not recorded: {cause}")


def approval_entry(
    *, approver: str, decision: str, at: str, comment: str, source: str, counted: bool, reason: str
) -> dict[str, str]:
    """One decision as `DeploymentView.approvals` shows it, from the workflow or from the store."""
    entry = ApprovalEntry(
        approver=approver,
        decision=decision,
        at=at,
        comment=comment,
        source=source,
        counted=counted,
        reason=reason,
    )
    return entry.to_dict()


def policy_approvals(entries: Sequence[ApprovalEntry], recording: Collection[str]) -> list[dict[str, str]]:
    """The approvals the policy sees (`approver`, `at`): those that counted, in order, less those
    still being recorded (they count once they are)."""
    return [
        {"approver": e.approver, "at": e.at}
        for e in entries
        if e.decision == "approve" and e.counted and e.approver not in recording
    ]


class ApprovalRefused(Exception):
    """An approval or rejection that may not count; `kind` says why, for HTTP status mapping."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # not_allowed | duplicate | not_awaiting


def eligible_approvers(
    groups: Sequence[str], users: Mapping[str, tuple[Sequence[str], str | None]]
) -> list[Approver]:
    """Configured users (name -> (groups, email)) who belong to one of `groups`. An environment
    that names no groups has no approvers: a quorum above zero then cannot be met (fail closed)."""
    wanted = set(groups)
    return [
        Approver(name=name, email=email)
        for name, (member_of, email) in sorted(users.items())
        if wanted & set(member_of)
    ]


def change_authors(commits: Sequence[tuple[str, str, str]]) -> list[ChangeAuthor]:
    """Everyone named by `commits` ((sha, author email, committer email), newest first), once
    per role, with the newest commit that names them."""
    found: dict[tuple[str, str], ChangeAuthor] = {}
    for sha, author, committer in commits:
        for role, email in (("author", author), ("committer", committer)):
            key = (email.strip().lower(), role)
            if key[0] and key not in found:
                found[key] = ChangeAuthor(email=email.strip(), commit=sha, role=role)
    return list(found.values())


def authorship(gate: ApprovalGate, approver: Approver) -> str | None:
    """Why `approver` wrote part of the change ("the author of commit 1a2b…"), or None.

    Matched by email, case-insensitively, against every author and committer of the change;
    a gate without `authors` (resolved by an older worker) knows the head commit's author only.
    """
    email = (approver.email or "").strip().lower()
    if not email:
        return None
    if not gate.authors:
        head = gate.author_email.strip().lower()
        return "the author of this commit" if head and head == email else None
    for author in gate.authors:
        if author.email.lower() == email:
            return f"the {author.role} of commit {author.commit[:12]} in this change"
    return None


def _is_author(gate: ApprovalGate, approver: Approver) -> bool:
    return authorship(gate, approver) is not None


def _knows_authors(gate: ApprovalGate) -> bool:
    return bool(gate.authors or gate.author_email)


def unreachable_quorum(gate: ApprovalGate, required: int, *, environment: str) -> str | None:
    """Why `required` approvals can never be gathered (too few eligible people), or None."""
    if not gate.groups:
        return (
            f"{environment} needs {required} approval(s) but names no approver groups: "
            f"set environments[{environment}].approvals.groups in lockstep.yaml"
        )
    eligible = [a.name for a in gate.approvers if a.email and not _is_author(gate, a)]
    if len(eligible) >= required:
        return None
    who = ", ".join(eligible) or "nobody"
    return (
        f"{environment} needs {required} approval(s) but only {len(eligible)} user(s) may give them "
        f"({who}, from {', '.join(gate.groups)}; no author or committer of the change counts, and an "
        "approver needs an email to be told apart from them): add approvers to the server "
        "configuration's users"
    )


def quorum(gate: ApprovalGate, policy_required: int) -> int:
    """The larger of the manifest's `required` and the policy's `approvals_required`."""
    return max(gate.required, policy_required, 0)


def check_decision(
    gate: ApprovalGate,
    approved_by: list[str],
    request: ApprovalInput,
    *,
    environment: str,
    decision: str = "approve",
) -> Approver:
    """The eligible approver behind `request`; raises ApprovalRefused naming why it cannot count.

    Only configured members of the environment's groups decide. An approval never counts from an
    author or committer of any commit of the change (matched by email, case-insensitively; an
    approver without an email cannot be told apart, so is refused too) and counts once per
    person. A rejection only needs membership: an author may withdraw their change, an approver
    may change their mind.
    """
    verb = "approve" if decision == "approve" else "reject"
    name = request.approver.strip()
    if not name:
        raise ApprovalRefused('the decision names no approver (payload {"approver": ...})', "not_allowed")
    approver = next((a for a in gate.approvers if a.name == name), None)
    if approver is None:
        groups = ", ".join(gate.groups) or "no group (the environment names none)"
        why = (
            "not a member of " + groups
            if name in gate.configured
            else "not a user of the server configuration"
        )
        raise ApprovalRefused(f"{name} may not {verb} {environment}: {why}", "not_allowed")
    if decision != "approve":
        return approver
    wrote = authorship(gate, approver)
    if wrote is not None:
        raise ApprovalRefused(f"{name} is {wrote} ({approver.email}) and may not approve it", "not_allowed")
    if _knows_authors(gate) and not approver.email:
        raise ApprovalRefused(
            f"{name} has no email in the server configuration, so Lockstep cannot tell whether they "
            "wrote this commit; their approval does not count",
            "not_allowed",
        )
    if name in approved_by:
        raise ApprovalRefused(f"{name} has already approved this deployment", "duplicate")
    return approver


def refusal(
    gate: ApprovalGate | None,
    request: ApprovalInput,
    *,
    decision: str,
    deployment_id: str,
    environment: str,
    status: DeploymentStatus,
    changing: bool,
    rejected: bool,
    approved_by: Sequence[str],
    recording: Sequence[str],
    required: int,
) -> ApprovalRefused | None:
    """Why a decision may not count now, or None; `gate` is None until approvals are awaited.

    A decision counts while the deployment awaits approval. Until the changes end (`changing`) a
    rejection still counts: before they start it stops them, while they run it cancels them and
    what changed is rolled back. Nothing counts after a rejection; an approval beyond the quorum
    (counting those `recording`) does not; then `check_decision` decides who may.
    """
    late_rejection = decision == "reject" and status == DeploymentStatus.DEPLOYING and changing
    if gate is None or (status != DeploymentStatus.AWAITING_APPROVAL and not late_rejection):
        return ApprovalRefused(
            f"{deployment_id} is not awaiting approval (status {status.value})", "not_awaiting"
        )
    if rejected:
        return ApprovalRefused(f"{deployment_id} is already rejected", "not_awaiting")
    if decision == "approve" and len(approved_by) + len(recording) >= required:
        return ApprovalRefused(f"{deployment_id} already has its approvals", "not_awaiting")
    try:
        check_decision(gate, [*approved_by, *recording], request, environment=environment, decision=decision)
    except ApprovalRefused as refused:
        return refused
    return None


def shown_duration(seconds: float) -> str:
    """A timeout as people read it: whole days, hours or minutes when it is one ("24h"), else seconds."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
