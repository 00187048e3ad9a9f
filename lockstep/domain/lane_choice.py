"""What a lane runs next and what it supersedes (docs/concepts.md): one rule for both protocols.

When a deployment ends, the lane takes everything queued behind it as one batch, asks Git which
commit is the newest (`newest`, found by an activity), deploys that one and supersedes the rest
of the batch. What joins while the lane asks waits for the next round.

Deliberately does not: compare commits (Git does, through an activity), tell deployments their
turn, or know which lane protocol asks (update-driven runs queue in `pending`, signalled ones in
`waiting`; both choose here).
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass

from lockstep.domain.lane_messages import LaneRequest


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
