"""`lockstep dev`'s supervisor: the restart policy as arithmetic, and the loop over real child
processes with a clock the test moves (no timing is asserted)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lockstep.devstack.supervisor import Backoff, Child, GaveUp, RestartPolicy, Supervisor, exit_description


def test_backoff_doubles_up_to_its_cap_and_a_stable_run_starts_it_afresh() -> None:
    backoff = Backoff(RestartPolicy(first_delay=1, max_delay=5, stable_after=30, give_up_after=10))
    assert [backoff.after_exit(ran_for=2) for _ in range(5)] == [1, 2, 4, 5, 5]
    assert backoff.after_exit(ran_for=45) == 1, "it had run well: not a crash loop"
    assert backoff.after_exit(ran_for=1) == 2


def test_repeated_fast_failures_give_up() -> None:
    backoff = Backoff(RestartPolicy(give_up_after=3))
    assert backoff.after_exit(ran_for=0.5) is not None
    assert backoff.after_exit(ran_for=0.5) is not None
    assert backoff.after_exit(ran_for=0.5) is None


def test_exits_are_described_with_the_signal_that_ended_them() -> None:
    assert exit_description(3) == "code 3"
    assert exit_description(-9) == "code -9 (killed by SIGKILL)"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _exits_with(code: int, starts: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["sh", "-c", f"exit {code}"])
    process.wait()
    starts.append(process)
    return process


def test_a_dead_child_is_started_again_after_its_delay_saying_so(tmp_path: Path) -> None:
    clock, said, starts = Clock(), list[str](), list[subprocess.Popen[bytes]]()
    child = Child("worker", tmp_path / "worker.log", lambda: _exits_with(3, starts))
    supervisor = Supervisor([child], say=said.append, clock=clock)
    supervisor.start_all()

    clock.now += 40  # a long, healthy run, then it died
    supervisor.check()
    assert said == [f"worker exited with code 3; restarting in 1s (see {tmp_path / 'worker.log'})"]
    assert len(starts) == 1, "not before its delay"
    clock.now += 1
    supervisor.check()
    assert len(starts) == 2 and said[-1] == "worker restarted"


def test_a_child_that_keeps_dying_at_once_ends_the_stack_naming_its_log(tmp_path: Path) -> None:
    clock, said, starts = Clock(), list[str](), list[subprocess.Popen[bytes]]()
    child = Child("api", tmp_path / "api.log", lambda: _exits_with(1, starts))
    supervisor = Supervisor([child], say=said.append, clock=clock)
    supervisor.start_all()
    with pytest.raises(GaveUp) as gave_up:
        for _ in range(20):
            supervisor.check()
            clock.now += 9  # past every delay (1, 2, 4, 8), short of a stable run (30 s)
    assert len(starts) == 5
    assert "api exited with code 1: 5 failures in a row" in str(gave_up.value)
    assert str(tmp_path / "api.log") in str(gave_up.value)
    assert [m.split(";")[1].strip() for m in said if "restarting" in m] == [
        f"restarting in {delay}s (see {tmp_path / 'api.log'})" for delay in (1, 2, 4, 8)
    ]
