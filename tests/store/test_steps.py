"""Steps and prior releases: idempotent, keyed writes; first-write-wins under concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from lockstep.store import Store
from lockstep.store.deployments import prior_releases, record_prior_release, record_step, steps_for
from lockstep.store.tables import StepRecord


def step(store: Store, status: str, **overrides: Any) -> StepRecord:
    fields: dict[str, Any] = {
        "deployment_id": "d1",
        "component": "web",
        "host": "10.0.0.5",
        "action": "deploy",
    }
    fields.update(overrides)
    with store.session() as session:
        return record_step(session=session, status=status, **fields)


def steps(store: Store, deployment_id: str = "d1") -> list[dict[str, Any]]:
    with store.session() as session:
        return [s.model_dump() for s in steps_for(session=session, deployment_id=deployment_id)]


def test_step_lifecycle(store: Store) -> None:
    running = step(store, "running", output="")
    done = step(store, "succeeded", output="switched current -> abc")

    assert running.attempt == 1
    [row] = steps(store)
    assert row["status"] == "succeeded" and row["attempt"] == 1
    assert row["output"] == "switched current -> abc"
    assert row["started_at"] is not None and row["finished_at"] is not None
    assert row["finished_at"] >= row["started_at"]
    assert done.id == running.id


def test_step_written_twice_changes_nothing(store: Store) -> None:
    step(store, "running")
    step(store, "succeeded", output="ok")
    before = steps(store)
    step(store, "succeeded", output="ok", finished_at=datetime.now(UTC) + timedelta(hours=1))
    assert steps(store) == before


def test_running_again_is_a_new_attempt(store: Store) -> None:
    step(store, "running")
    step(store, "failed", output="exit 1")
    first = steps(store)[0]
    retried = step(store, "running")

    assert retried.attempt == 2
    assert retried.finished_at is None
    assert retried.started_at is not None and first["started_at"] <= retried.started_at
    assert retried.output == "exit 1"  # kept until the attempt reports


def test_explicit_attempt_numbers_make_duplicates_harmless(store: Store) -> None:
    step(store, "running", attempt=1)
    step(store, "running", attempt=1)
    assert steps(store)[0]["attempt"] == 1
    step(store, "running", attempt=3)
    assert steps(store)[0]["attempt"] == 3
    step(store, "running", attempt=2)  # a stale write from an earlier attempt
    assert steps(store)[0]["attempt"] == 3


def test_caller_timestamps_are_kept(store: Store) -> None:
    started = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    finished = started + timedelta(seconds=42)
    step(store, "running", started_at=started)
    step(store, "succeeded", finished_at=finished)
    [row] = steps(store)
    assert (row["started_at"], row["finished_at"]) == (started, finished)


def test_steps_are_keyed_and_ordered(store: Store) -> None:
    step(store, "running", host="")
    step(store, "running", host="10.0.0.5")
    step(store, "running", host="10.0.0.6")
    step(store, "running", action="health")
    step(store, "pending", component="api", host="")
    step(store, "succeeded", host="")
    step(store, "skipped", deployment_id="d2")

    keys = [(s["component"], s["host"], s["action"], s["status"], s["attempt"]) for s in steps(store)]
    assert keys == [
        ("web", "", "deploy", "succeeded", 1),
        ("web", "10.0.0.5", "deploy", "running", 1),
        ("web", "10.0.0.6", "deploy", "running", 1),
        ("web", "10.0.0.5", "health", "running", 1),
        ("api", "", "deploy", "pending", 0),
    ]
    assert [s["attempt"] for s in steps(store, "d2")] == [0]


def test_prior_release_first_write_wins(store: Store) -> None:
    key = {"deployment_id": "d1", "component": "web", "host": "10.0.0.5", "dest": "/srv/web"}
    with store.session() as session:
        assert record_prior_release(session=session, previous_release="rel-old", **key) == "rel-old"
    with store.session() as session:
        # A retried deploy activity sees its own new release as current: it must not win.
        assert record_prior_release(session=session, previous_release="rel-new", **key) == "rel-old"
    with store.session() as session:
        rows = prior_releases(session=session, deployment_id="d1", component="web")
    assert [(r.host, r.dest, r.previous_release) for r in rows] == [("10.0.0.5", "/srv/web", "rel-old")]


def test_prior_release_none_is_recorded(store: Store) -> None:
    key = {"deployment_id": "d1", "component": "web", "host": "h", "dest": "/srv/web"}
    with store.session() as session:
        assert record_prior_release(session=session, previous_release=None, **key) is None
    with store.session() as session:
        assert record_prior_release(session=session, previous_release="rel-new", **key) is None


def test_prior_releases_per_deployment_and_component(store: Store) -> None:
    with store.session() as session:
        for deployment_id, component, host, dest in [
            ("d1", "web", "h1", "/srv/web"),
            ("d1", "web", "h2", "/srv/web"),
            ("d1", "web", "h1", "/srv/static"),
            ("d1", "api", "h1", "/srv/api"),
            ("d2", "web", "h1", "/srv/web"),
        ]:
            record_prior_release(
                session=session,
                deployment_id=deployment_id,
                component=component,
                host=host,
                dest=dest,
                previous_release=f"{deployment_id}-{host}",
            )
    with store.session() as session:
        rows = prior_releases(session=session, deployment_id="d1", component="web")
    assert [(r.host, r.dest) for r in rows] == [("h1", "/srv/web"), ("h2", "/srv/web"), ("h1", "/srv/static")]


def test_prior_release_concurrent_writers_agree_on_the_first(store: Store) -> None:
    writers = 8
    barrier = threading.Barrier(writers)
    results: list[str | None] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            with store.session() as session:
                results.append(
                    record_prior_release(
                        session=session,
                        deployment_id="d1",
                        component="web",
                        host="h1",
                        dest="/srv/web",
                        previous_release=f"rel-{n}",
                    )
                )
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    with store.session() as session:
        rows = prior_releases(session=session, deployment_id="d1", component="web")
    assert len(rows) == 1
    assert results == [rows[0].previous_release] * writers


def test_concurrent_step_writers_make_one_row(store: Store) -> None:
    writers = 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            barrier.wait()
            step(store, "running")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    [row] = steps(store)
    assert row["attempt"] == writers
