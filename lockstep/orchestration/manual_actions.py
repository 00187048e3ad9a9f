"""Recording a person's request to deploy or roll back in the audit trail, whichever way it came in.

The API records the token's user (`api-token`); `lockstep deploy` or `rollback` without a token
records the operating-system user who ran it (`cli-local`: whoever can run the CLI against the
store and Temporal). Keyed by deployment and actor, so asking again adds nothing and another
person asking for the same deployment is a fact of its own.
"""

from __future__ import annotations

import os
import pwd
from datetime import UTC, datetime

from lockstep.domain.audit import AuditEntry, AuditKind
from lockstep.store.audit import append_entry
from lockstep.store.engine import Store


def local_user() -> str:
    """The operating-system user running this process (its uid when it has no name).

    From the password database, not $USER or $LOGNAME, which anyone can set to any name."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # no passwd entry (e.g. an arbitrary uid in a container)
        return f"uid {os.getuid()}"


def record_deploy_request(
    store: Store,
    *,
    actor: str,
    actor_source: str,
    deployment_id: str,
    application: str,
    environment: str,
    ref: str | None,
    commit: str,
) -> None:
    entry = AuditEntry(
        key=f"{actor_source}/deploy/{deployment_id}/{actor}",
        kind=AuditKind.MANUAL_ACTION,
        at=datetime.now(UTC).isoformat(),
        actor=actor,
        actor_source=actor_source,
        deployment_id=deployment_id,
        application=application,
        environment=environment,
        detail={"action": "deploy", "ref": ref or "", "commit": commit},
    )
    with store.session() as session:
        append_entry(session=session, entry=entry)


def record_rollback_request(
    store: Store,
    *,
    actor: str,
    actor_source: str,
    deployment_id: str,
    application: str,
    environment: str,
    to: str,
    commit: str,
) -> None:
    """A person asked to put the environment back on what deployment `to` left live; the rollback
    deployment it queued (or that answered) is `deployment_id`."""
    entry = AuditEntry(
        key=f"{actor_source}/rollback/{deployment_id}/{actor}",
        kind=AuditKind.MANUAL_ACTION,
        at=datetime.now(UTC).isoformat(),
        actor=actor,
        actor_source=actor_source,
        deployment_id=deployment_id,
        application=application,
        environment=environment,
        detail={"action": "rollback", "to": to, "commit": commit},
    )
    with store.session() as session:
        append_entry(session=session, entry=entry)
