"""Deployment and lane ids are unambiguous: distinct names, commits and attempts never share one.

Names are drawn from the manifest's own rule (`lockstep.manifest.syntax`), and half the time built
from a few dashed words, so pairs whose names join to the same text under `-` (the older ids'
collision: `shop-eu`/`prod` and `shop`/`eu-prod`) come up in almost every run.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockstep.domain.ids import (
    attempt_id,
    attempts_prefix,
    deployment_id,
    is_attempt_of,
    lane_id,
    legacy_deployment_id,
    legacy_lane_id,
)

APPLICATION_RULE = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"  # lockstep.manifest.syntax._LABEL
ENVIRONMENT_RULE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"  # lockstep.manifest.syntax._NAME: may hold `.`
_WORDS = ["shop", "eu", "prod", "eu-prod", "a", "1"]
names = st.one_of(
    st.from_regex(APPLICATION_RULE, fullmatch=True),
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map("-".join),
)
environments = st.one_of(
    st.from_regex(ENVIRONMENT_RULE, fullmatch=True),
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map("-".join),
    # An environment that continues another's name with what an id puts after it.
    st.tuples(st.sampled_from(_WORDS), st.text("0123456789abcdef", min_size=10, max_size=10)).map(".".join),
    st.sampled_from(["a.lane", "lane", "prod.2", "x.0123456789.lane"]),
)
pairs = st.tuples(names, environments)
shas = st.text("0123456789abcdef", min_size=40, max_size=40)
attempts = st.one_of(st.integers(min_value=1, max_value=10_000), st.integers(1, 999_999_999))
deployments = st.tuples(names, environments, shas, attempts)


def test_the_pairs_that_shared_an_id_no_longer_do() -> None:
    sha = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
    assert legacy_lane_id("shop-eu", "prod") == legacy_lane_id("shop", "eu-prod")
    assert legacy_deployment_id("shop-eu", "prod", sha, 1) == legacy_deployment_id("shop", "eu-prod", sha, 1)
    assert lane_id("shop-eu", "prod") == "shop-eu.prod.lane"
    assert lane_id("shop", "eu-prod") == "shop.eu-prod.lane"
    assert deployment_id("shop-eu", "prod", sha) == "shop-eu.prod.0d1a26e67d"
    assert deployment_id("shop", "eu-prod", sha) == "shop.eu-prod.0d1a26e67d"
    assert deployment_id("shop", "eu-prod", sha, 2) == "shop.eu-prod.0d1a26e67d.2"


@given(pairs, pairs)
def test_distinct_pairs_never_share_a_lane(p: tuple[str, str], q: tuple[str, str]) -> None:
    assert (lane_id(*p) == lane_id(*q)) == (p == q)


@given(deployments, deployments)
def test_distinct_deployments_never_share_an_id(
    d: tuple[str, str, str, int], e: tuple[str, str, str, int]
) -> None:
    same = d[:2] == e[:2] and d[2][:10] == e[2][:10] and d[3] == e[3]  # the id keeps sha[:10]
    assert (deployment_id(*d) == deployment_id(*e)) == same


@given(deployments)
def test_an_id_reads_back_as_its_names_commit_and_attempt(d: tuple[str, str, str, int]) -> None:
    """Injective because it is decodable: `.` splits it into exactly what it was made of."""
    application, environment, sha, attempt = d
    made = deployment_id(*d)
    first, rest = made.split(".", 1)  # the application holds no `.`
    last = rest.rsplit(".", 1)[1]
    tail = 1 if len(last) == 10 else 2  # a commit has ten digits, an attempt at most nine
    parts = rest.rsplit(".", tail)
    assert first == application and parts[0] == environment and parts[1] == sha[:10]
    assert parts[2:] == ([] if attempt == 1 else [str(attempt)])


@given(pairs, deployments)
def test_a_lane_id_is_never_a_deployment_id(p: tuple[str, str], d: tuple[str, str, str, int]) -> None:
    """Both are workflow ids in one Temporal namespace, where an id is unique whatever the type."""
    assert lane_id(*p) != deployment_id(*d)


@given(pairs, deployments, pairs, deployments)
def test_no_new_id_equals_an_older_one(
    p: tuple[str, str], d: tuple[str, str, str, int], q: tuple[str, str], e: tuple[str, str, str, int]
) -> None:
    """Ids from before stay where they are (store, Temporal); nothing new can land on one."""
    older = {legacy_lane_id(*q), legacy_deployment_id(*e)}
    assert lane_id(*p) not in older and deployment_id(*d) not in older


@given(deployments, deployments)
def test_the_attempts_of_a_deployment_are_exactly_its_prefix_matches(
    d: tuple[str, str, str, int], e: tuple[str, str, str, int]
) -> None:
    """What `count_attempts` relies on: only attempts of the same base start with `<base>.`."""
    base = deployment_id(*d[:3])
    other = deployment_id(*e)
    assert is_attempt_of(base, other) == (deployment_id(*e[:3]) == base)
    if is_attempt_of(base, other):
        assert other == base or other.startswith(attempts_prefix(base))


def test_attempts_count_from_one() -> None:
    assert attempt_id("shop.staging.0d1a26e67d", 1) == "shop.staging.0d1a26e67d"
    with pytest.raises(ValueError, match="count from 1"):
        attempt_id("shop.staging.0d1a26e67d", 0)


@given(pairs, deployments)
def test_ids_are_url_path_safe(p: tuple[str, str], d: tuple[str, str, str, int]) -> None:
    for workflow_id in (lane_id(*p), deployment_id(*d)):
        assert re.fullmatch(r"[A-Za-z0-9._-]+", workflow_id)


def test_an_environment_that_continues_another_with_a_commit_is_not_its_attempt() -> None:
    """`a` and `a.0123456789` (environment names may hold `.`) share the prefix `shop.a.0123456789.`."""
    base = deployment_id("shop", "a", "0123456789" + "0" * 30)
    other = deployment_id("shop", "a.0123456789", "abcdefabcd" + "0" * 30)
    assert other.startswith(attempts_prefix(base)) and not is_attempt_of(base, other)
    assert is_attempt_of(base, attempt_id(base, 7))
    with pytest.raises(ValueError, match="at most"):
        attempt_id(base, 1_000_000_000)
