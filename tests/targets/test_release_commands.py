"""Deploy and health commands run through the release logic, on a real `LocalConnection`."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lockstep.domain.errors import DeploymentStepFailed, HealthCheckFailed
from lockstep.domain.models import HealthSpec
from lockstep.health.commands import verify_health
from lockstep.targets.host_commands import failed_results, run_commands
from lockstep.targets.local import LocalConnection


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.fixture
def conn(root: Path) -> LocalConnection:
    return LocalConnection(root)


def test_run_commands_in_order_capturing_output(conn: LocalConnection) -> None:
    results = run_commands(conn, ["echo a", "echo b >&2"], cwd=None, env={}, timeout=10, max_output=1024)
    assert [(r.command, r.exit_code, r.output) for r in results] == [
        ("echo a", 0, "a\n"),
        ("echo b >&2", 0, "b\n"),
    ]


def test_run_commands_stops_at_the_first_failure(conn: LocalConnection, root: Path) -> None:
    with pytest.raises(DeploymentStepFailed) as info:
        run_commands(
            conn,
            ["echo ok", "echo broken; exit 4", "touch ran"],
            cwd=None,
            env={},
            timeout=10,
            max_output=1024,
        )
    message = str(info.value)
    assert "'echo broken; exit 4'" in message
    assert "exited with 4" in message
    assert "broken" in message
    assert [r.exit_code for r in failed_results(info.value)] == [0, 4]
    assert not (root / "ran").exists()


def test_run_commands_timeout_is_a_failure(conn: LocalConnection) -> None:
    with pytest.raises(DeploymentStepFailed, match="timed out") as info:
        run_commands(conn, ["sleep 30"], cwd=None, env={}, timeout=0.3, max_output=1024)
    assert failed_results(info.value)[0].timed_out


def test_health_passes_once_the_check_passes(conn: LocalConnection, root: Path) -> None:
    ready = root / "ready"
    conn.ensure_dir("/srv")
    timer = threading.Timer(0.3, ready.touch)
    timer.start()
    beats: list[str] = []
    try:
        results = verify_health(
            conn,
            HealthSpec(
                commands=["echo checking", "test -f ../ready"], timeout_seconds=20, interval_seconds=0.05
            ),
            cwd="/srv",
            env={},
            command_timeout=5,
            max_output=1024,
            heartbeat=beats.append,
        )
    finally:
        timer.cancel()
    assert [r.exit_code for r in results] == [0, 0]
    assert beats and "test -f" in beats[0]


def test_health_fails_after_its_timeout_with_the_output(conn: LocalConnection) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    health = HealthSpec(
        commands=["echo fine", "echo not ready yet; exit 7"], timeout_seconds=10, interval_seconds=3
    )
    with pytest.raises(HealthCheckFailed) as info:
        verify_health(
            conn,
            health,
            cwd=None,
            env={},
            command_timeout=5,
            max_output=1024,
            sleep=sleep,
            clock=lambda: now[0],
        )
    message = str(info.value)
    assert "within 10s" in message
    assert "'echo not ready yet; exit 7' exited with 7" in message
    assert "not ready yet" in message
    assert slept == [3, 3, 3, 1]  # never sleeps past the deadline; one last attempt at it
    assert [r.exit_code for r in failed_results(info.value)] == [0, 7]


def test_health_without_commands_passes_at_once(root: Path) -> None:
    class NoRun(LocalConnection):
        def run(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise AssertionError("no command should run")

    assert verify_health(NoRun(root), HealthSpec(), cwd=None, env={}, command_timeout=1, max_output=1) == []
