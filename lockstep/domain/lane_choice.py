"""What a lane runs next and what it supersedes (docs/concepts.md): one rule for both protocols.

When a deployment ends, the lane takes everything queued behind it as one batch, asks Git which
commit is the newest (`newest`, found by an activity), deploys that one and supersedes the rest
of the batch. What joins while the lane asks waits for the next round.

Deliberately does not: compare commits (Git does, through an activity), tell deployments their
turn, or know which lane protocol asks (update-driven runs queue in `pending`, signalled ones in
`waiting`; both choose here).
"""

from __future__ import annotations

from collections.abc import Container, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

from lockstep.domain.ids import lane_id, legacy_lane_id
from lockstep.domain.lane_messages import LaneRequest
from lockstep.domain.status import DeploymentStatus

RECENT_KEPT = 200  # outcomes a lane remembers across continue-as-new, shown by its status query


@dataclass(frozen=True)
class LaneChoice:
    """One round of a lane's choice."""

    deploy: LaneRequest | None  # the newest of the batch; None when it ended while the lane chose
    superseded: list[LaneRequest]  # the rest of the batch, never to run
    queue: list[LaneRequest]  # what waits for the next round, in order


def choose_turn(
    queue: Sequence[LaneRequest],
    batch: Sequence[LaneRequest],
    newest: LaneRequest,
    *,
    ended: Container[str] = (),
) -> LaneChoice:
    """The lane's choice for `batch` (what was queued when it began choosing) given the `newest`
    of it; `queue` is what is queued now (the batch and what joined meanwhile).

    Deployments of the batch that `ended` meanwhile (cancelled while queued: their ids) are
    dropped. If the newest is among them, nothing deploys this round and nothing is superseded:
    the rest of the batch waits again, ahead of what joined meanwhile, and the next round chooses
    among all of it.
    """
    chosen = {r.deployment_id for r in batch}
    rest = [r for r in queue if r.deployment_id not in chosen]
    alive = [r for r in batch if r.deployment_id not in ended]
    if newest not in alive:
        return LaneChoice(deploy=None, superseded=[], queue=alive + rest)
    return LaneChoice(deploy=newest, superseded=[r for r in alive if r is not newest], queue=rest)


def lanes_to_tell(joined: str | None, application: str, environment: str, *, both: bool) -> list[str]:
    """The lanes a deployment tells that it ended: the one it `joined`; if its join was cut short
    (None), any it may have reached. `both` is the `unambiguous-ids` patch: since it, that is the
    lane under today's id and the one under the id from before; until it, only the latter."""
    if joined is not None:
        return [joined]
    if both:
        return [lane_id(application, environment), legacy_lane_id(application, environment)]
    return [legacy_lane_id(application, environment)]


def newest_of(batch: Sequence[LaneRequest], sha: str) -> LaneRequest | None:
    """The request of `batch` for the commit Git called the newest (the last to ask for it, if
    several did), or None when no queued request names it."""
    return next((r for r in reversed(batch) if r.commit == sha), None)


def known_status(
    deployment_id: str,
    *,
    running: LaneRequest | None,
    queued: Sequence[LaneRequest],
    recent: Mapping[str, DeploymentStatus],
) -> DeploymentStatus | None:
    """What a lane knows of a deployment: deploying, queued, its remembered outcome, or None."""
    if running is not None and running.deployment_id == deployment_id:
        return DeploymentStatus.DEPLOYING
    if any(r.deployment_id == deployment_id for r in queued):
        return DeploymentStatus.QUEUED
    return recent.get(deployment_id)


def remember(
    recent: MutableMapping[str, DeploymentStatus],
    deployment_id: str,
    status: DeploymentStatus,
    *,
    keep: int = RECENT_KEPT,
) -> None:
    """Note a deployment's outcome in `recent` (in place), forgetting the oldest beyond `keep`."""
    recent[deployment_id] = status
    while len(recent) > keep:
        del recent[next(iter(recent))]
