"""Which deployment a rollback on demand goes back to, and who a rollback's actor is."""

from __future__ import annotations

import re

import pytest

from lockstep.domain.audit import actor_source_for
from lockstep.domain.rollback_target import PastDeployment, RollbackRefused, rollback_target
from lockstep.domain.status import DeploymentStatus

SUCCEEDED = DeploymentStatus.SUCCEEDED


def past(id_: str, commit: str, status: DeploymentStatus = SUCCEEDED, env: str = "staging") -> PastDeployment:
    return PastDeployment(id=id_, application="shop", environment=env, commit=commit, status=status)


def target(
    succeeded: list[PastDeployment], to: str | None = None, named: PastDeployment | None = None
) -> str:
    return rollback_target(
        application="shop", environment="staging", succeeded=succeeded, named=named, to=to
    ).to.id


def test_the_default_is_the_successful_deployment_before_the_live_one_at_another_commit() -> None:
    live, b, a = past("c.2", "c" * 40), past("b", "b" * 40), past("a", "a" * 40)
    assert target([live, b, a]) == "b"
    # One at the live commit would put back what is live: the one before it is taken.
    assert target([live, past("c", "c" * 40), a]) == "a"
    chosen = rollback_target(application="shop", environment="staging", succeeded=[live, b])
    assert chosen.live == live


@pytest.mark.parametrize(
    ("succeeded", "reason"),
    [
        ([], "shop/staging has no successful deployment: nothing is live to roll back from"),
        (
            [past("b", "b" * 40), past("b-again", "b" * 40)],
            "shop/staging has no successful deployment before the live one (b) at another commit",
        ),
    ],
)
def test_without_an_earlier_success_it_is_refused(succeeded: list[PastDeployment], reason: str) -> None:
    with pytest.raises(RollbackRefused, match="^" + re.escape(reason)):
        target(succeeded)


def test_a_named_deployment_must_have_succeeded_here() -> None:
    live = past("b", "b" * 40)
    assert target([live], to="a", named=past("a", "a" * 40)) == "a"
    assert target([live], to="b", named=live) == "b"  # the plan then says nothing changes
    with pytest.raises(RollbackRefused, match=r"^no deployment 'x'$"):
        target([live], to="x", named=None)
    with pytest.raises(RollbackRefused, match=r"^a is rolled_back, not succeeded: only a deployment"):
        target([live], to="a", named=past("a", "a" * 40, DeploymentStatus.ROLLED_BACK))
    with pytest.raises(RollbackRefused, match=r"^a is a deployment of shop/prod, not of shop/staging$"):
        target([live], to="a", named=past("a", "a" * 40, env="prod"))


def test_a_rollback_is_asked_for_by_a_person() -> None:
    assert actor_source_for("rollback", "alice") == "api-token"  # the API records the token's user
    assert actor_source_for("rollback", None) == "cli-local"
    assert actor_source_for("promotion", "promotion from staging") == "system"
