"""Rolling a host component back host by host: a host that cannot be reached, or fails, keeps no
other on the failed release; it is tried again within the rollback's patience and named when it
stays out of reach; a component nothing was begun on connects to nothing.

As in test_host_delivery.py the hosts are real `LocalConnection`s under tmp_path and the journal
is the in-memory one; `connect` is a stand-in for `TargetRegistry.connect_each` that can say a
host is unreachable (tests/targets/test_connect_each.py covers the real one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from lockstep.delivery.host import deliver_host_component, require_every_host
from lockstep.delivery.host_rollback import RollbackIncomplete, rollback_host_component
from lockstep.delivery.journal import MemoryJournal
from lockstep.domain.errors import DeploymentStepFailed, TargetUnreachable
from lockstep.domain.status import StepStatus
from lockstep.targets.host import HostReach
from lockstep.targets.local import LocalConnection
from lockstep.targets.ssh import HostKeyRejected
from tests.delivery.test_host_delivery import (
    FAIL_ON_MARKED_HOST,
    LOG_COMMIT,
    A,
    B,
    component,
    current,
    delivery,
    lines,
    output,
    reach,
    status,
)


@pytest.fixture
def hosts(tmp_path: Path) -> list[LocalConnection]:
    conns = []
    for name in ("h1", "h2", "h3"):
        (tmp_path / name).mkdir()
        conns.append(LocalConnection(root=tmp_path / name, name=name))
    return conns


def flaky(
    hosts: Sequence[LocalConnection], down: dict[str, int], asked: list[list[str]]
) -> Callable[[Sequence[str]], list[HostReach]]:
    """Reaches every host asked for, except that `down[name]` more attempts fail for that host."""

    def connect(names: Sequence[str]) -> list[HostReach]:
        asked.append(list(names))
        reaches = []
        for h in hosts:
            if h.name not in names:
                continue
            if down.get(h.name, 0) > 0:
                down[h.name] -= 1
                error = TargetUnreachable(f"{h.name}: cannot connect: Connection refused")
                reaches.append(HostReach(h.name, error=error))
            else:
                reaches.append(HostReach(h.name, connection=h))
        return reaches

    return connect


def commands_of(release: str) -> Sequence[str]:
    return component(release).deploy_commands


def deployed_b_over_a(hosts: list[LocalConnection]) -> MemoryJournal:
    """A live everywhere, then B delivered to every host: the journal of B's deployment."""
    deliver_host_component(delivery(component(A), A, MemoryJournal()), hosts, batch=3)
    journal = MemoryJournal()
    deliver_host_component(delivery(component(B), B, journal), hosts, batch=3)
    assert [current(h) for h in hosts] == [B, B, B]
    return journal


@pytest.mark.parametrize("batch", [1, 3])
def test_a_host_out_of_reach_keeps_no_other_on_the_failed_release(
    hosts: list[LocalConnection], batch: int
) -> None:
    journal = deployed_b_over_a(hosts)
    asked: list[list[str]] = []
    connect = flaky(hosts, {"h2": 1000}, asked)

    with pytest.raises(RollbackIncomplete) as caught:
        rollback_host_component(delivery(component(B), B, journal), connect, commands_of, batch=batch)

    h1, h2, h3 = hosts
    assert (current(h1), current(h2), current(h3)) == (A, B, A)
    assert lines(h1, "deploy.log") == lines(h3, "deploy.log") == [A, B, A]
    assert status(journal, "h1", "rollback") == status(journal, "h3", "rollback") == StepStatus.SUCCEEDED
    assert status(journal, "h2", "rollback") == StepStatus.FAILED
    assert output(journal, "h2", "rollback") == "unreachable: cannot connect: Connection refused"
    assert caught.value.hosts == {"h2": "unreachable: cannot connect: Connection refused"}
    assert str(caught.value) == (
        "not rolled back on 1 of 3 hosts: h2 (unreachable: cannot connect: Connection refused)"
    )
    assert [sorted(names) for names in asked] == [["h1", "h2", "h3"]]  # no patience: one attempt


def test_an_unreachable_host_is_tried_again_until_it_answers(hosts: list[LocalConnection]) -> None:
    journal = deployed_b_over_a(hosts)
    asked: list[list[str]] = []
    progress: list[str] = []
    d = delivery(component(B), B, journal)
    d.progress = progress.append

    done = rollback_host_component(d, flaky(hosts, {"h2": 2}, asked), commands_of, batch=3, patience=60)

    assert done.changed and sorted(done.hosts) == ["h1", "h2", "h3"]
    assert [current(h) for h in hosts] == [A, A, A]
    # Hosts already back are not tried again.
    assert [sorted(names) for names in asked] == [["h1", "h2", "h3"], ["h2"], ["h2"]]
    assert [lines(h, "deploy.log") for h in hosts] == [[A, B, A]] * 3
    assert status(journal, "h2", "rollback") == StepStatus.SUCCEEDED
    assert f"/srv/web/current -> {A}" in output(journal, "h2", "rollback")
    assert any(m.startswith("cannot reach h2; trying again") for m in progress)


def test_a_failure_that_no_retry_cures_is_not_retried_and_holds_up_no_other(
    hosts: list[LocalConnection],
) -> None:
    # A's deploy commands fail on h1 when it is marked: rolling h1 back fails there for good.
    flawed = (LOG_COMMIT, FAIL_ON_MARKED_HOST)
    deliver_host_component(delivery(component(A, deploy=flawed), A, MemoryJournal()), hosts, batch=3)
    journal = MemoryJournal()
    deliver_host_component(delivery(component(B), B, journal), hosts, batch=3)
    (hosts[0].root / "fail-here").touch()
    asked: list[list[str]] = []

    with pytest.raises(RollbackIncomplete) as caught:
        rollback_host_component(
            delivery(component(B), B, journal),
            flaky(hosts, {}, asked),
            lambda release: component(release, deploy=flawed).deploy_commands,
            patience=60,
        )

    assert [sorted(names) for names in asked] == [["h1", "h2", "h3"]]
    assert [current(h) for h in hosts] == [A, A, A]  # h1 was switched; its restart failed
    assert status(journal, "h1", "rollback") == StepStatus.FAILED
    assert "fail-here" in output(journal, "h1", "rollback")
    assert status(journal, "h2", "rollback") == status(journal, "h3", "rollback") == StepStatus.SUCCEEDED
    assert list(caught.value.hosts) == ["h1"]
    assert isinstance(caught.value, DeploymentStepFailed) and not caught.value.retryable


def test_only_the_hosts_the_journal_names_are_connected(hosts: list[LocalConnection]) -> None:
    deliver_host_component(delivery(component(A), A, MemoryJournal()), hosts, batch=1)
    (hosts[1].root / "fail-here").touch()
    journal = MemoryJournal()
    broken = component(B, deploy=[LOG_COMMIT, FAIL_ON_MARKED_HOST])
    with pytest.raises(DeploymentStepFailed):
        deliver_host_component(delivery(broken, B, journal), hosts, batch=1)
    asked: list[list[str]] = []

    done = rollback_host_component(delivery(broken, B, journal), reach(hosts, asked=asked), commands_of)

    assert asked == [["h1", "h2"]]  # h3 was never touched
    assert done.hosts == ["h1", "h2"] and done.changed
    assert [current(h) for h in hosts] == [A, A, A]


def test_nothing_begun_connects_to_nothing_and_changes_nothing(hosts: list[LocalConnection]) -> None:
    journal = MemoryJournal()
    asked: list[list[str]] = []

    done = rollback_host_component(delivery(component(B), B, journal), reach(hosts, asked=asked), commands_of)

    assert asked == []
    assert not done.changed and done.hosts == []
    assert journal.steps_by_key == {}


def test_a_retried_rollback_leaves_hosts_already_back_alone(hosts: list[LocalConnection]) -> None:
    journal = deployed_b_over_a(hosts)
    with pytest.raises(RollbackIncomplete):
        rollback_host_component(delivery(component(B), B, journal), flaky(hosts, {"h3": 1}, []), commands_of)
    asked: list[list[str]] = []

    done = rollback_host_component(
        delivery(component(B), B, journal, attempt=2), reach(hosts, asked=asked), commands_of
    )

    assert asked == [["h3"]]
    assert done.changed and sorted(done.hosts) == ["h1", "h2", "h3"]
    assert [current(h) for h in hosts] == [A, A, A]
    assert [lines(h, "deploy.log") for h in hosts] == [[A, B, A]] * 3  # nothing ran twice


def test_a_deploy_needs_every_host_and_says_which_it_could_not_reach(
    hosts: list[LocalConnection],
) -> None:
    journal = MemoryJournal()
    closed: list[str] = []

    class Tracked(LocalConnection):
        def close(self) -> None:
            closed.append(self.name)

    h1 = Tracked(root=hosts[0].root, name="h1")
    reaches = [
        HostReach("h1", connection=h1),
        HostReach("h2", error=TargetUnreachable("h2: cannot connect: timed out")),
        HostReach("h3", error=HostKeyRejected("h3: host key unknown: known_hosts has no entry")),
    ]

    with pytest.raises(HostKeyRejected):  # what the user must fix outranks a host that is down
        require_every_host(delivery(component(B), B, journal), reaches)

    assert closed == ["h1"]
    assert status(journal, "h1", "deploy") is None
    assert (status(journal, "h2", "deploy"), output(journal, "h2", "deploy")) == (
        StepStatus.FAILED,
        "unreachable: cannot connect: timed out",
    )
    assert (status(journal, "h3", "deploy"), output(journal, "h3", "deploy")) == (
        StepStatus.FAILED,
        "host key unknown: known_hosts has no entry",
    )
    assert journal.priors() == []
    assert require_every_host(delivery(component(B), B, journal), reaches[:1]) == [h1]
