"""What a verified branch push asks for: the environments it deploys, and the one call that
queues a deployment.

Owns the rule of docs/concepts.md and issue 3: a push to branch B deploys every environment whose
`branch` is B and that has no `promote_from` (those receive commits by promotion only), and the
`DeploymentEnqueuer` protocol the webhook router calls once per such environment.

Deliberately does not: queue, start or deduplicate anything. The enqueuer (the environment lane,
`lockstep.orchestration.lanes.enqueue_deployment`) does, keyed by Temporal workflow ids, so a
redelivered event answers with the deployment it started the first time.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from lockstep.manifest.schema import Manifest


class EnqueuedDeployment(Protocol):
    """What the enqueuer answers: the deployment now queued, running or already done."""

    @property
    def deployment_id(self) -> str: ...

    @property
    def environment(self) -> str: ...

    @property
    def commit(self) -> str: ...

    @property
    def existing(self) -> bool:
        """True when this commit was already queued, running or succeeded in this environment."""
        ...


class DeploymentEnqueuer(Protocol):
    """Queue `commit` of `repository` (the configured URL) for `environment` of `application`."""

    def __call__(
        self,
        *,
        application: str,
        environment: str,
        repository: str,
        commit: str,
        trigger: str,
        actor: str | None,
    ) -> Awaitable[EnqueuedDeployment]: ...


def environments_for_branch(manifest: Manifest, branch: str) -> list[str]:
    """Names of the environments a push to `branch` deploys, in manifest order."""
    return [e.name for e in manifest.environments if e.branch == branch and e.promote_from is None]
