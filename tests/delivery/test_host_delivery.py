"""Delivering a host component onto several hosts in batches, and rolling it back.

The three "hosts" are real `LocalConnection`s, each confined to its own folder under tmp_path, so
files, `current` links and deploy/health commands are real; the journal is the in-memory one.
Deploy commands append `$LOCKSTEP_COMMIT` to `$LOCKSTEP_ROOT/deploy.log`, which tells which
release's commands ran where and how often.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from lockstep.delivery.host import (
    DeliveryCancelled,
    DeliveryLimits,
    HostDelivery,
    deliver_host_component,
)
from lockstep.delivery.host_rollback import rollback_host_component
from lockstep.delivery.journal import MemoryJournal
from lockstep.domain.errors import DeploymentStepFailed, HealthCheckFailed
from lockstep.domain.models import HealthSpec, ReleaseTree, RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.targets.host import HostReach
from lockstep.targets.local import LocalConnection
from lockstep.targets.releases import current_release, switch_current

A, B = "a" * 40, "b" * 40
DEST = "/srv/web"
LOG_COMMIT = 'echo "$LOCKSTEP_COMMIT" >> "$LOCKSTEP_ROOT/deploy.log"'
FAIL_ON_MARKED_HOST = 'test ! -f "$LOCKSTEP_ROOT/fail-here"'
HEALTHY = 'echo checked >> "$LOCKSTEP_ROOT/health.log" && grep -q "<h1>" index.html'


def component(
    release: str, *, deploy: Sequence[str] = (LOG_COMMIT,), health: Sequence[str] = (HEALTHY,)
) -> RenderedComponent:
    return RenderedComponent(
        name="web",
        kind="host",
        target="web",
        target_name="vms-staging",
        depends_on=(),
        content_hash=release[0] * 64,
        health=HealthSpec(commands=list(health), timeout_seconds=1, interval_seconds=0.05),
        releases=(ReleaseTree(dest=DEST, files={"index.html": f"<h1>{release[:7]}</h1>\n".encode()}),),
        deploy_commands=tuple(deploy),
    )


def delivery(
    comp: RenderedComponent,
    release: str,
    journal: MemoryJournal,
    *,
    attempt: int = 1,
    cancelled: threading.Event | None = None,
) -> HostDelivery:
    env = {
        "LOCKSTEP_APPLICATION": "shop",
        "LOCKSTEP_ENVIRONMENT": "staging",
        "LOCKSTEP_COMPONENT": comp.name,
        "LOCKSTEP_COMMIT": release,
        "LOCKSTEP_DEPLOYMENT": f"shop-staging-{release[:7]}",
    }
    return HostDelivery(
        component=comp,
        release=release,
        env=env,
        journal=journal,
        limits=DeliveryLimits(command_timeout=10.0, max_output=4096),
        cancelled=cancelled,
        attempt=attempt,
    )


@pytest.fixture
def hosts(tmp_path: Path) -> list[LocalConnection]:
    conns = []
    for name in ("h1", "h2", "h3"):
        (tmp_path / name).mkdir()
        conns.append(LocalConnection(root=tmp_path / name, name=name))
    return conns


def reach(
    hosts: Sequence[LocalConnection], *, asked: list[list[str]] | None = None
) -> Callable[[Sequence[str]], list[HostReach]]:
    """A `connect` for rollback_host_component that reaches every host it is asked for."""

    def connect(names: Sequence[str]) -> list[HostReach]:
        if asked is not None:
            asked.append(list(names))
        return [HostReach(h.name, connection=h) for h in hosts if h.name in names]

    return connect


def current(conn: LocalConnection) -> str | None:
    return current_release(conn, DEST)


def lines(conn: LocalConnection, name: str) -> list[str]:
    path = conn.root / name
    return path.read_text().split() if path.exists() else []


def status(journal: MemoryJournal, host: str, action: str) -> StepStatus | None:
    return journal.step_status(host=host, action=action)


def output(journal: MemoryJournal, host: str, action: str) -> str:
    return journal.steps_by_key[(host, action)][1] or ""


@pytest.mark.parametrize("batch", [1, 3])
def test_every_host_switches_and_records_deploy_and_health(hosts: list[LocalConnection], batch: int) -> None:
    journal = MemoryJournal()
    done = [
        c.location for c in deliver_host_component(delivery(component(B), B, journal), hosts, batch=batch)
    ]

    assert done == ["h1", "h2", "h3"]
    for conn in hosts:
        assert current(conn) == B
        assert (conn.root / "srv/web/current/index.html").read_text() == "<h1>bbbbbbb</h1>\n"
        assert lines(conn, "deploy.log") == [B]
        assert status(journal, conn.name, "deploy") == StepStatus.SUCCEEDED
        assert status(journal, conn.name, "health") == StepStatus.SUCCEEDED
    assert {(p.host, p.dest, p.previous) for p in journal.priors()} == {(h, DEST, None) for h in done}


def test_a_failing_host_stops_the_rollout_after_its_batch(hosts: list[LocalConnection]) -> None:
    (hosts[1].root / "fail-here").touch()
    journal = MemoryJournal()
    comp = component(B, deploy=[LOG_COMMIT, FAIL_ON_MARKED_HOST])

    with pytest.raises(DeploymentStepFailed, match="h2"):
        deliver_host_component(delivery(comp, B, journal), hosts, batch=1)

    h1, h2, h3 = hosts
    assert current(h1) == B
    assert status(journal, "h1", "deploy") == StepStatus.SUCCEEDED
    assert status(journal, "h1", "health") == StepStatus.SUCCEEDED
    assert status(journal, "h2", "deploy") == StepStatus.FAILED
    assert current(h2) == B  # switched first; its deploy command then failed
    assert lines(h2, "deploy.log") == [B]
    assert "fail-here" in output(journal, "h2", "deploy")
    assert status(journal, "h2", "health") is None
    assert not (h3.root / "srv").exists()
    assert current(h3) is None
    assert not any(host == "h3" for host, _action in journal.steps_by_key)
    assert lines(h3, "deploy.log") == []


def test_hosts_in_the_failing_batch_still_finish(hosts: list[LocalConnection]) -> None:
    (hosts[0].root / "fail-here").touch()
    journal = MemoryJournal()
    comp = component(B, deploy=[LOG_COMMIT, FAIL_ON_MARKED_HOST])

    with pytest.raises(DeploymentStepFailed, match="h1"):
        deliver_host_component(delivery(comp, B, journal), hosts, batch=2)

    assert status(journal, "h1", "deploy") == StepStatus.FAILED
    assert status(journal, "h2", "health") == StepStatus.SUCCEEDED
    assert current(hosts[1]) == B
    assert current(hosts[2]) is None  # the next batch never started


def test_rollback_puts_changed_hosts_back_and_reruns_their_deploy(hosts: list[LocalConnection]) -> None:
    h1, h2, h3 = hosts
    deliver_host_component(delivery(component(A), A, MemoryJournal()), hosts, batch=1)
    (h2.root / "fail-here").touch()
    journal = MemoryJournal()
    broken = component(B, deploy=[LOG_COMMIT, FAIL_ON_MARKED_HOST])
    with pytest.raises(DeploymentStepFailed):
        deliver_host_component(delivery(broken, B, journal), hosts, batch=1)
    assert (current(h1), current(h2), current(h3)) == (B, B, A)

    asked: list[str] = []

    def deploy_commands_for(release: str) -> Sequence[str]:
        asked.append(release)
        return component(release).deploy_commands

    done = rollback_host_component(delivery(broken, B, journal), reach(hosts), deploy_commands_for)

    assert done.changed is True and done.hosts == ["h1", "h2"]
    assert (current(h1), current(h2), current(h3)) == (A, A, A)
    assert (h1.root / "srv/web/current/index.html").read_text() == "<h1>aaaaaaa</h1>\n"
    assert asked == [A]  # worked out once for every host going back to it
    # The previous release's deploy commands ran again, with LOCKSTEP_COMMIT = that release.
    assert lines(h1, "deploy.log") == [A, B, A]
    assert lines(h2, "deploy.log") == [A, B, A]
    assert lines(h3, "deploy.log") == [A]
    for host in ("h1", "h2"):
        assert status(journal, host, "rollback") == StepStatus.SUCCEEDED
        assert f"{DEST}/current -> {A}" in output(journal, host, "rollback")
    assert status(journal, "h3", "rollback") is None


def test_rollback_without_a_previous_release_removes_current(hosts: list[LocalConnection]) -> None:
    journal = MemoryJournal()
    comp = component(B)
    deliver_host_component(delivery(comp, B, journal), hosts[:1], batch=1)
    assert current(hosts[0]) == B

    asked: list[str] = []

    def deploy_commands_for(release: str) -> Sequence[str]:
        asked.append(release)
        return comp.deploy_commands

    done = rollback_host_component(delivery(comp, B, journal), reach(hosts[:1]), deploy_commands_for)

    assert done.changed is True
    assert not (hosts[0].root / "srv/web/current").is_symlink()
    assert current(hosts[0]) is None
    assert asked == []  # nothing to redeploy when the component was new
    assert lines(hosts[0], "deploy.log") == [B]
    assert status(journal, "h1", "rollback") == StepStatus.SUCCEEDED
    assert "(removed)" in output(journal, "h1", "rollback")


def test_a_retry_after_a_complete_delivery_only_verifies_health(hosts: list[LocalConnection]) -> None:
    journal = MemoryJournal()
    comp = component(B)
    deliver_host_component(delivery(comp, B, journal), hosts, batch=3)
    health_runs = [len(lines(conn, "health.log")) for conn in hosts]

    done = [c.location for c in deliver_host_component(delivery(comp, B, journal, attempt=2), hosts, batch=3)]

    assert done == ["h1", "h2", "h3"]
    for conn, before in zip(hosts, health_runs, strict=True):
        assert lines(conn, "deploy.log") == [B]  # not run a second time
        assert len(lines(conn, "health.log")) == before + 1
        assert current(conn) == B
        assert status(journal, conn.name, "deploy") == StepStatus.SUCCEEDED
        assert status(journal, conn.name, "health") == StepStatus.SUCCEEDED


def test_health_that_never_passes_fails_with_its_output(hosts: list[LocalConnection]) -> None:
    journal = MemoryJournal()
    comp = component(B, health=["echo 'web is not answering'; exit 3"])

    with pytest.raises(HealthCheckFailed, match="exited with 3"):
        deliver_host_component(delivery(comp, B, journal), hosts[:1], batch=1)

    assert status(journal, "h1", "deploy") == StepStatus.SUCCEEDED
    assert status(journal, "h1", "health") == StepStatus.FAILED
    assert "web is not answering" in output(journal, "h1", "health")
    assert current(hosts[0]) == B  # left switched: rolling back is the caller's decision


def test_cancelled_before_delivery_changes_no_host(hosts: list[LocalConnection]) -> None:
    cancelled = threading.Event()
    cancelled.set()
    journal = MemoryJournal()

    with pytest.raises(DeliveryCancelled, match="web"):
        deliver_host_component(delivery(component(B), B, journal, cancelled=cancelled), hosts, batch=1)

    for conn in hosts:
        assert list(conn.root.iterdir()) == []
    assert journal.priors() == []
    assert journal.steps_by_key == {}


def test_a_rollback_retried_after_switching_still_reruns_the_deploy(hosts: list[LocalConnection]) -> None:
    """Attempt 1 switched `current` back, then died before the deploy commands: attempt 2 finds
    nothing to switch but must still run them."""
    h1 = hosts[0]
    deliver_host_component(delivery(component(A), A, MemoryJournal()), [h1], batch=1)
    journal = MemoryJournal()
    deliver_host_component(delivery(component(B), B, journal), [h1], batch=1)
    switch_back(h1, A)  # what the dead attempt did ...
    journal.steps(host="h1", updates=[("rollback", StepStatus.RUNNING, None)])  # ... and recorded

    done = rollback_host_component(
        delivery(component(B), B, journal, attempt=2),
        reach([h1]),
        lambda release: component(release).deploy_commands,
    )
    assert done.changed is True  # the earlier attempt switched it back
    assert current(h1) == A
    assert lines(h1, "deploy.log") == [A, B, A]
    assert status(journal, "h1", "rollback") == StepStatus.SUCCEEDED


def switch_back(conn: LocalConnection, release: str) -> None:
    switch_current(conn, DEST, release)
