"""What a host delivery reports per file, and how it treats hosts whose files did not change.

Real `LocalConnection` "hosts" under tmp_path, as in test_host_delivery.py: deploy commands append
`$LOCKSTEP_COMMIT` to `$LOCKSTEP_ROOT/deploy.log`, health commands append to `health.log`, so
which commands ran where is read from the files. `observe_host` goes through a real
`TargetRegistry` with a local target.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from lockstep.delivery.host import DeliveryLimits, HostDelivery, deliver_host_component
from lockstep.delivery.host_live import diff_host, observe_host
from lockstep.delivery.host_rollback import rollback_host_component
from lockstep.delivery.journal import MemoryJournal
from lockstep.domain.changes import ChangeAction, ChangeSet
from lockstep.domain.errors import DeploymentStepFailed
from lockstep.domain.journal import PriorRelease
from lockstep.domain.models import HealthSpec, ReleaseTree, RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.settings import LocalTargetSettings
from lockstep.targets.host import HostReach
from lockstep.targets.local import LocalConnection
from lockstep.targets.registry import TargetRegistry
from lockstep.targets.releases import current_release

A, B, C = "a" * 40, "b" * 40, "c" * 40
DEST = "/srv/web"
LOG_COMMIT = 'echo "$LOCKSTEP_COMMIT" >> "$LOCKSTEP_ROOT/deploy.log"'
FAIL_ON_MARKED_HOST = 'test ! -f "$LOCKSTEP_ROOT/fail-here"'
HEALTHY = 'echo checked >> "$LOCKSTEP_ROOT/health.log" && test -f index.html'
FILES = {
    "index.html": "<h1>hi</h1>\n",
    "app.conf": "port=1\nname=web\n",
    "bin/start": "#!/bin/sh\nexec web\n",
}


def component(
    files: Mapping[str, str | bytes] = FILES, *, deploy: tuple[str, ...] = (LOG_COMMIT,), content: str = "1"
) -> RenderedComponent:
    return RenderedComponent(
        name="web",
        kind="host",
        target="web",
        target_name="site",
        depends_on=(),
        content_hash=content * 64,
        health=HealthSpec(commands=[HEALTHY], timeout_seconds=1, interval_seconds=0.05),
        releases=(
            ReleaseTree(
                dest=DEST, files={k: v if isinstance(v, bytes) else v.encode() for k, v in files.items()}
            ),
        ),
        deploy_commands=deploy,
    )


def delivery(
    comp: RenderedComponent, release: str, journal: MemoryJournal, *, attempt: int = 1
) -> HostDelivery:
    return HostDelivery(
        component=comp,
        release=release,
        env={"LOCKSTEP_COMMIT": release, "LOCKSTEP_COMPONENT": comp.name},
        journal=journal,
        limits=DeliveryLimits(command_timeout=10.0, max_output=4096),
        attempt=attempt,
    )


@pytest.fixture
def hosts(tmp_path: Path) -> list[LocalConnection]:
    conns = []
    for name in ("h1", "h2"):
        (tmp_path / name).mkdir()
        conns.append(LocalConnection(root=tmp_path / name, name=name))
    return conns


def deliver(
    hosts: list[LocalConnection], comp: RenderedComponent, release: str, journal: MemoryJournal | None = None
) -> list[ChangeSet]:
    return deliver_host_component(delivery(comp, release, journal or MemoryJournal()), hosts, batch=2)


def actions(change_set: ChangeSet) -> dict[str, str]:
    return {c.subject: c.action.value for c in change_set.changes}


def log(conn: LocalConnection, name: str) -> list[str]:
    path = conn.root / name
    return path.read_text().split() if path.exists() else []


def test_a_first_deployment_creates_every_file(hosts: list[LocalConnection]) -> None:
    done = deliver(hosts, component(), A)

    assert [c.location for c in done] == ["h1", "h2"]
    for change_set in done:
        assert actions(change_set) == {
            "/srv/web/app.conf": "created",
            "/srv/web/bin/start": "created",
            "/srv/web/index.html": "created",
        }
        assert change_set.summary() == "3 created"
    assert {c.summary for c in done[0].changes} == {"1 lines", "2 lines"}


def test_one_changed_file_is_configured_and_the_rest_unchanged(hosts: list[LocalConnection]) -> None:
    deliver(hosts, component(), A)
    done = deliver(hosts, component({**FILES, "app.conf": "port=2\nname=web\nworkers=4\n"}, content="2"), B)

    for change_set in done:
        assert actions(change_set) == {
            "/srv/web/app.conf": "configured",
            "/srv/web/bin/start": "unchanged",
            "/srv/web/index.html": "unchanged",
        }
    [configured] = [c for c in done[0].changes if c.action == ChangeAction.CONFIGURED]
    assert configured.summary == "16 → 26 bytes"  # apply fetches no live content: sizes only
    assert all(current_release(conn, DEST) == B for conn in hosts)
    assert all(log(conn, "deploy.log") == [A, B] for conn in hosts)


def test_a_file_no_longer_in_the_component_is_deleted(hosts: list[LocalConnection]) -> None:
    deliver(hosts, component(), A)
    done = deliver(hosts, component({"index.html": FILES["index.html"]}, content="2"), B)

    assert actions(done[0]) == {
        "/srv/web/app.conf": "deleted",
        "/srv/web/bin/start": "deleted",
        "/srv/web/index.html": "unchanged",
    }
    assert not (hosts[0].root / "srv/web/current/app.conf").exists()


def test_identical_files_under_a_new_commit_are_neither_staged_nor_switched(
    hosts: list[LocalConnection],
) -> None:
    """Only the deploy command differs: nothing is staged or switched, but the deploy commands
    run in the live release with the deployment's commit; health runs. The live release is
    journaled as the prior (what a rollback reruns commands in: test_host_unchanged_rollback.py)."""
    deliver(hosts, component(), A)
    journal = MemoryJournal()
    comp = component(deploy=(LOG_COMMIT, "echo changed; pwd -P"), content="2")
    done = deliver(hosts, comp, B, journal)

    for conn, change_set in zip(hosts, done, strict=True):
        assert set(actions(change_set).values()) == {"unchanged"}
        assert not change_set.changed
        assert current_release(conn, DEST) == A
        assert not (conn.root / "srv/web/releases" / B).exists()
        assert log(conn, "deploy.log") == [A, B]  # run again, with this deployment's commit
        assert log(conn, "health.log") == ["checked", "checked"]
        assert journal.step_status(host=conn.name, action="deploy") == StepStatus.SUCCEEDED
        assert journal.step_status(host=conn.name, action="health") == StepStatus.SUCCEEDED
        output = journal.steps_by_key[(conn.name, "deploy")][1] or ""
        first, *commands = output.splitlines()
        assert first == (
            f"unchanged: files identical to the live release {A[:12]}; nothing staged or switched; "
            "deploy commands run in it"
        )
        assert "changed" in commands and commands[-1] == str((conn.root / "srv/web/releases" / A).resolve())
    assert sorted(journal.priors(), key=lambda p: p.host) == [PriorRelease(h, DEST, A) for h in ("h1", "h2")]


def test_an_unchanged_host_without_deploy_commands_journals_nothing_to_undo(
    hosts: list[LocalConnection],
) -> None:
    deliver(hosts, component(deploy=()), A)
    journal = MemoryJournal()
    comp = component(deploy=(), content="2")
    done = deliver(hosts, comp, B, journal)
    assert all(set(actions(c).values()) == {"unchanged"} for c in done)
    assert journal.priors() == []

    def connect(labels: object) -> list[HostReach]:
        raise AssertionError("no host should be connected for a rollback of unchanged hosts")

    back = rollback_host_component(delivery(comp, B, journal), connect, lambda _release: [])
    assert (back.changed, back.hosts, back.changes) == (False, [], [])
    assert back.detail.startswith("nothing to roll back")
    assert all(current_release(conn, DEST) == A for conn in hosts)


def test_a_retry_after_an_unchanged_delivery_only_verifies(hosts: list[LocalConnection]) -> None:
    deliver(hosts, component(), A)
    journal = MemoryJournal()
    comp = component(content="2")
    deliver(hosts, comp, B, journal)

    done = deliver_host_component(delivery(comp, B, journal, attempt=2), hosts, batch=2)

    for conn, change_set in zip(hosts, done, strict=True):
        assert log(conn, "deploy.log") == [A, B]  # converged: the commands did not run again
        assert log(conn, "health.log") == ["checked"] * 3  # health verified again
        assert set(actions(change_set).values()) == {"unchanged"}
        assert current_release(conn, DEST) == A
        assert not (conn.root / "srv/web/releases" / B).exists()  # its prior did not make it staged
    assert sorted(journal.priors(), key=lambda p: p.host) == [PriorRelease(h, DEST, A) for h in ("h1", "h2")]


def test_failing_deploy_commands_on_an_unchanged_host_fail_it_and_a_retry_runs_them_again(
    hosts: list[LocalConnection],
) -> None:
    deliver(hosts, component(), A)
    comp = component(deploy=(LOG_COMMIT, FAIL_ON_MARKED_HOST), content="2")
    (hosts[0].root / "fail-here").touch()
    journal = MemoryJournal()
    with pytest.raises(DeploymentStepFailed):
        deliver_host_component(delivery(comp, B, journal), hosts[:1], batch=1)
    assert journal.step_status(host="h1", action="deploy") == StepStatus.FAILED
    assert (journal.priors(), current_release(hosts[0], DEST)) == ([PriorRelease("h1", DEST, A)], A)
    (hosts[0].root / "fail-here").unlink()

    [done] = deliver_host_component(delivery(comp, B, journal, attempt=2), hosts[:1], batch=1)

    assert log(hosts[0], "deploy.log") == [A, B, B]
    assert journal.step_status(host="h1", action="deploy") == StepStatus.SUCCEEDED
    assert (set(actions(done).values()), current_release(hosts[0], DEST)) == ({"unchanged"}, A)
    assert not (hosts[0].root / "srv/web/releases" / B).exists()  # still not staged


WRITE_STATUS = "echo deployed > status && mkdir -p run && echo 1 > run/pid"  # into the release


def test_files_a_deploy_command_wrote_are_not_lockstep_s(
    hosts: list[LocalConnection], tmp_path: Path
) -> None:
    """A redeploy with identical files is unchanged although the deploy commands wrote files
    into the release: those are not on the marker's list, so not `deleted`, in apply or a plan."""
    comp = component(deploy=(LOG_COMMIT, WRITE_STATUS))
    deliver(hosts, comp, A)
    assert (hosts[0].root / "srv/web/current/status").read_text() == "deployed\n"

    done = deliver(hosts, component(deploy=(LOG_COMMIT, WRITE_STATUS), content="2"), B)

    for conn, change_set in zip(hosts, done, strict=True):
        assert actions(change_set) == dict.fromkeys(
            ["/srv/web/app.conf", "/srv/web/bin/start", "/srv/web/index.html"], "unchanged"
        )
        assert current_release(conn, DEST) == A  # unchanged: not staged nor switched
        assert log(conn, "deploy.log") == [A, B]
    [planned] = diff_host(comp, observe_host(registry(hosts[0].root), comp))
    assert set(actions(planned).values()) == {"unchanged"} and len(planned.changes) == 3


def test_a_listed_file_edited_by_hand_is_configured(hosts: list[LocalConnection]) -> None:
    deliver(hosts, component(), A)
    (hosts[0].root / "srv/web/current/app.conf").write_text("port=9\n")  # by hand, in the live release

    done = deliver(hosts, component(content="2"), B)

    assert actions(done[0])["/srv/web/app.conf"] == "configured"
    assert set(actions(done[1]).values()) == {"unchanged"}
    assert (current_release(hosts[0], DEST), current_release(hosts[1], DEST)) == (B, A)
    assert (hosts[0].root / "srv/web/current/app.conf").read_text() == FILES["app.conf"]


def test_a_release_without_a_list_is_compared_whole(hosts: list[LocalConnection]) -> None:
    """A release staged before releases listed their files: everything in it counts, so a file
    a deploy command wrote there is `deleted` (the behaviour before the list)."""
    deliver(hosts[:1], component(deploy=(LOG_COMMIT, WRITE_STATUS)), A)
    (hosts[0].root / "srv/web/releases" / A / ".lockstep-files").unlink()

    [done] = deliver(hosts[:1], component(deploy=(LOG_COMMIT, WRITE_STATUS), content="2"), B)

    assert actions(done) == {
        "/srv/web/app.conf": "unchanged",
        "/srv/web/bin/start": "unchanged",
        "/srv/web/index.html": "unchanged",
        "/srv/web/run/pid": "deleted",
        "/srv/web/status": "deleted",
    }
    assert current_release(hosts[0], DEST) == B


def test_a_host_this_deployment_began_is_finished_not_skipped(hosts: list[LocalConnection]) -> None:
    """Attempt 1 switched h1 to B and then its deploy command failed: B's files are live, but
    attempt 2 must still run the deploy commands there and report the change against A."""
    deliver(hosts, component(), A)
    new = component({**FILES, "app.conf": "port=2\n"}, deploy=(LOG_COMMIT, FAIL_ON_MARKED_HOST), content="2")
    (hosts[0].root / "fail-here").touch()
    journal = MemoryJournal()
    with pytest.raises(DeploymentStepFailed):
        deliver_host_component(delivery(new, B, journal), hosts[:1], batch=1)
    assert current_release(hosts[0], DEST) == B
    (hosts[0].root / "fail-here").unlink()

    [done] = deliver_host_component(delivery(new, B, journal, attempt=2), hosts[:1], batch=1)

    assert log(hosts[0], "deploy.log") == [A, B, B]
    assert journal.step_status(host="h1", action="deploy") == StepStatus.SUCCEEDED
    assert actions(done)["/srv/web/app.conf"] == "configured"


def test_a_retry_after_a_complete_delivery_reports_the_change_against_the_prior(
    hosts: list[LocalConnection],
) -> None:
    deliver(hosts, component(), A)
    journal = MemoryJournal()
    new = component({**FILES, "app.conf": "port=2\n"}, content="2")
    deliver(hosts, new, B, journal)

    done = deliver_host_component(delivery(new, B, journal, attempt=2), hosts, batch=2)

    assert all(log(conn, "deploy.log") == [A, B] for conn in hosts)  # converged: not redeployed
    assert actions(done[1])["/srv/web/app.conf"] == "configured"


def registry(root: Path) -> TargetRegistry:
    return TargetRegistry({"site": LocalTargetSettings(type="local", root=str(root))})


def test_observe_and_diff_without_a_current_create_every_file(tmp_path: Path) -> None:
    live = observe_host(registry(tmp_path / "fresh"), component())

    [state] = live.hosts
    assert (state.host, state.unreachable, [t.current for t in state.trees]) == ("local", None, [None])
    [change_set] = diff_host(component(), live)
    assert change_set.location == "local"
    assert set(actions(change_set).values()) == {"created"}


def test_observe_and_diff_with_a_diff_name_the_changed_line(tmp_path: Path) -> None:
    conn = LocalConnection(root=tmp_path, name="local")
    deliver([conn], component({**FILES, "logo.png": b"\x89PNG\0\1"}), A)
    desired = component({**FILES, "app.conf": "port=2\nname=web\n", "logo.png": b"\x89PNG\0\2"}, content="2")

    [change_set] = diff_host(
        desired, observe_host(registry(tmp_path), desired, with_content=True), with_diff=True
    )

    assert change_set.location == "local"
    changes = {c.subject: c for c in change_set.changes}
    conf = changes["/srv/web/app.conf"]
    assert (conf.action, conf.summary) == (ChangeAction.CONFIGURED, "2 → 2 lines")
    assert "--- live/srv/web/app.conf\n+++ desired/srv/web/app.conf\n" in conf.diff
    assert "-port=1\n+port=2\n" in conf.diff
    logo = changes["/srv/web/logo.png"]
    assert (logo.action, logo.summary) == (ChangeAction.CONFIGURED, "6 → 6 bytes")
    assert logo.diff == "(binary file: 6 -> 6 bytes)"
    assert changes["/srv/web/index.html"].diff == ""  # unchanged: no diff
    counted = observe_host(registry(tmp_path), desired)  # counts only: no live content fetched
    [tree] = counted.hosts[0].trees
    assert tree.files["app.conf"].sha256 and all(f.content is None for f in tree.files.values())
    [plain] = diff_host(desired, counted)
    assert len(plain.changes) == 4 and all(c.diff == "" for c in plain.changes)
    assert {c.subject: c.summary for c in plain.changes}["/srv/web/app.conf"] == "16 → 16 bytes"


def test_observe_reports_a_host_that_cannot_be_reached(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    live = observe_host(registry(tmp_path / "a-file" / "root"), component())

    [state] = live.hosts
    assert state.host == "local"
    assert state.unreachable is not None and "cannot be created" in state.unreachable
    [change_set] = diff_host(component(), live)
    assert change_set.changes == [] and change_set.unreachable == state.unreachable
    assert change_set.summary().startswith("unreachable: ")


def test_observe_reports_a_dest_it_cannot_read(tmp_path: Path) -> None:
    """A `current` that is a real folder is someone's data: the host is reported, not raised."""
    (tmp_path / "srv/web/current").mkdir(parents=True)
    [state] = observe_host(registry(tmp_path), component()).hosts
    assert state.unreachable is not None and "not a symlink" in state.unreachable
