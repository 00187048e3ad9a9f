"""The lane's choice of what runs next and what is superseded, without Temporal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lockstep.domain.ids import lane_id, legacy_lane_id
from lockstep.domain.lane_choice import choose_turn, known_status, lanes_to_tell, newest_of, remember
from lockstep.domain.lane_messages import LaneRequest
from lockstep.domain.status import DeploymentStatus


def _request(n: int) -> LaneRequest:
    return LaneRequest(deployment_id=f"d{n}", commit=f"{n:040x}")


def _ids(requests: list[LaneRequest]) -> list[str]:
    return [r.deployment_id for r in requests]


def test_the_newest_deploys_and_the_rest_of_the_batch_is_superseded() -> None:
    a, b, c, late = (_request(n) for n in range(4))
    choice = choose_turn([a, b, c, late], [a, b, c], b)
    assert choice.deploy is b
    assert _ids(choice.superseded) == ["d0", "d2"]
    assert _ids(choice.queue) == ["d3"], "what joined while the lane chose waits for the next round"


def test_a_deployment_that_ended_while_the_lane_chose_is_dropped() -> None:
    a, b, c = (_request(n) for n in range(3))
    choice = choose_turn([a, b, c], [a, b, c], c, ended={"d0"})
    assert choice.deploy is c and _ids(choice.superseded) == ["d1"] and choice.queue == []


def test_when_the_newest_ended_nothing_runs_and_the_rest_waits_again_first() -> None:
    a, b, c, late = (_request(n) for n in range(4))
    choice = choose_turn([a, b, c, late], [a, b, c], c, ended={"d2", "d0"})
    assert choice.deploy is None and choice.superseded == []
    assert _ids(choice.queue) == ["d1", "d3"]


def test_a_batch_of_one_deploys_it() -> None:
    a = _request(0)
    choice = choose_turn([a], [a], a)
    assert choice.deploy is a and choice.superseded == [] and choice.queue == []


@st.composite
def _rounds(draw: st.DrawFn) -> tuple[list[LaneRequest], list[LaneRequest], LaneRequest, set[str]]:
    size = draw(st.integers(1, 8))
    batch = [_request(n) for n in range(size)]
    late = [_request(n) for n in range(size, size + draw(st.integers(0, 4)))]
    newest = draw(st.sampled_from(batch))
    ended = draw(st.sets(st.sampled_from(_ids(batch))))
    return [*batch, *late], batch, newest, ended


@given(_rounds())
def test_every_queued_deployment_is_accounted_for_exactly_once(
    round_: tuple[list[LaneRequest], list[LaneRequest], LaneRequest, set[str]],
) -> None:
    queue, batch, newest, ended = round_
    choice = choose_turn(queue, batch, newest, ended=ended)
    deployed = [] if choice.deploy is None else [choice.deploy.deployment_id]
    seen = deployed + _ids(choice.superseded) + _ids(choice.queue)
    assert sorted(seen) == sorted(i for i in _ids(queue) if i not in ended), "ended ones leave, others stay"
    assert len(seen) == len(set(seen))
    assert (choice.deploy is None) == (newest.deployment_id in ended)
    if choice.deploy is not None:
        assert choice.deploy is newest
        assert all(r in batch for r in choice.superseded), "only the batch is ever superseded"
    # The order of what waits is kept: the batch's survivors (if any) first, then later joins.
    assert _ids(choice.queue) == [i for i in _ids(queue) if i in set(_ids(choice.queue))]


def test_newest_of_takes_the_last_request_for_the_commit_git_named() -> None:
    a, b = _request(0), _request(1)
    again = LaneRequest(deployment_id="d9", commit=a.commit)
    assert newest_of([a, b, again], a.commit) is again
    assert newest_of([a, b], "f" * 40) is None


def test_what_a_lane_knows_of_a_deployment() -> None:
    a, b = _request(0), _request(1)
    recent = {"d7": DeploymentStatus.FAILED}
    assert known_status("d0", running=a, queued=[b], recent=recent) == DeploymentStatus.DEPLOYING
    assert known_status("d1", running=a, queued=[b], recent=recent) == DeploymentStatus.QUEUED
    assert known_status("d7", running=None, queued=[], recent=recent) == DeploymentStatus.FAILED
    assert known_status("d8", running=None, queued=[], recent=recent) is None


@given(st.lists(st.integers(0, 30), max_size=60), st.integers(1, 10))
def test_remember_keeps_the_newest_outcomes_within_its_bound(ids: list[int], keep: int) -> None:
    recent: dict[str, DeploymentStatus] = {}
    for n in ids:
        remember(recent, f"d{n}", DeploymentStatus.SUCCEEDED, keep=keep)
    assert len(recent) == min(keep, len(set(ids)))
    if ids:
        assert f"d{ids[-1]}" in recent, "the latest outcome is never the one forgotten"


def test_the_lanes_a_deployment_tells_it_ended() -> None:
    assert lanes_to_tell("lane-x", "shop", "prod", both=True) == ["lane-x"]
    assert lanes_to_tell("lane-x", "shop", "prod", both=False) == ["lane-x"]
    assert lanes_to_tell(None, "shop", "prod", both=True) == [
        lane_id("shop", "prod"),
        legacy_lane_id("shop", "prod"),
    ]
    assert lanes_to_tell(None, "shop", "prod", both=False) == [legacy_lane_id("shop", "prod")]
