"""Change sets stored on the steps the journal wrote: one per location, bounded, masked, replaced
by a retry, and never inventing a step the journal did not write."""

from __future__ import annotations

from lockstep.domain.changes import MAX_CHANGES, Change, ChangeAction, ChangeSet
from lockstep.domain.masking import Masker
from lockstep.store import Store
from lockstep.store.steps import record_step, record_step_changes, step_changes, steps_for
from lockstep.store.tables import StepRecord


def _step(store: Store, host: str, action: str = "deploy", status: str = "succeeded") -> None:
    with store.session() as session:
        record_step(
            session=session, deployment_id="d1", component="api", host=host, action=action, status=status
        )


def _record(
    store: Store, action: str, change_sets: list[ChangeSet], masker: Masker | None = None
) -> list[str]:
    with store.session() as session:
        return record_step_changes(
            session=session,
            deployment_id="d1",
            component="api",
            action=action,
            change_sets=change_sets,
            masker=masker,
        )


def _rows(store: Store) -> dict[tuple[str, str], StepRecord]:
    with store.session() as session:
        return {(s.host, s.action): s for s in steps_for(session=session, deployment_id="d1")}


def test_each_change_set_lands_on_the_step_at_its_location(store: Store) -> None:
    for host in ("web-1", "web-2"):
        _step(store, host)
        _step(store, host, action="health")
    web1 = ChangeSet(
        location="web-1",
        changes=[
            Change(subject="/srv/api/app.conf", action=ChangeAction.CONFIGURED, summary="2 lines changed"),
            Change(subject="/srv/api/run.sh", action=ChangeAction.UNCHANGED),
        ],
    )
    web2 = ChangeSet(
        location="web-2", changes=[Change(subject="/srv/api/app.conf", action=ChangeAction.CREATED)]
    )

    assert _record(store, "deploy", [web1, web2]) == []

    rows = _rows(store)
    first, second = step_changes(rows["web-1", "deploy"]), step_changes(rows["web-2", "deploy"])
    assert first == web1 and second == web2
    assert first.counts() == {"created": 0, "configured": 1, "unchanged": 1, "deleted": 0}
    assert rows["web-1", "health"].changes is None, "only the deploy step carries it"
    assert rows["web-1", "deploy"].status == "succeeded", "the journal's status is kept"


def test_a_change_set_without_its_step_is_skipped_not_invented(store: Store) -> None:
    _step(store, "")
    cluster = ChangeSet(changes=[Change(subject="ConfigMap/shop/api", action=ChangeAction.DELETED)])
    stray = ChangeSet(location="web-9")

    assert _record(store, "rollback", [cluster, stray]) == ["", "web-9"]

    rows = _rows(store)
    assert list(rows) == [("", "deploy")]
    assert rows["", "deploy"].changes is None


def test_a_retry_replaces_the_earlier_attempts_change_set(store: Store) -> None:
    _step(store, "")
    created = ChangeSet(changes=[Change(subject="Deployment/shop/api", action=ChangeAction.CREATED)])
    unchanged = ChangeSet(changes=[Change(subject="Deployment/shop/api", action=ChangeAction.UNCHANGED)])
    _record(store, "deploy", [created])
    _record(store, "deploy", [unchanged])
    _record(store, "deploy", [unchanged])

    [row] = _rows(store).values()
    assert step_changes(row) == unchanged


def test_what_is_stored_is_bounded_without_diffs_and_masked(store: Store) -> None:
    _step(store, "web-1")
    many = [
        Change(subject=f"/srv/api/f{i}", action=ChangeAction.CREATED, summary="token s3cr3t-value", diff="+x")
        for i in range(MAX_CHANGES + 7)
    ]
    _record(
        store,
        "deploy",
        [ChangeSet(location="web-1", changes=many, unreachable=None)],
        masker=Masker(["s3cr3t-value"]),
    )

    stored = step_changes(_rows(store)["web-1", "deploy"])
    assert stored is not None
    assert len(stored.changes) == MAX_CHANGES
    assert stored.counts()["created"] == MAX_CHANGES + 7, "the counts stay exact"
    assert {c.diff for c in stored.changes} == {""}
    assert {c.summary for c in stored.changes} == {"token ***"}


def test_an_unreachable_location_is_stored_with_its_reason(store: Store) -> None:
    _step(store, "web-2", status="failed")
    _record(store, "deploy", [ChangeSet(location="web-2", unreachable="connection refused")])

    stored = step_changes(_rows(store)["web-2", "deploy"])
    assert stored is not None and stored.unreachable == "connection refused"
    assert stored.summary() == "unreachable: connection refused"


def test_an_unreadable_stored_value_reads_as_none(store: Store) -> None:
    _step(store, "web-1")
    with store.session() as session:
        [row] = steps_for(session=session, deployment_id="d1")
        row.changes = '{"changes": [{"subject": "x", "action": "exploded"}]}'
    assert step_changes(_rows(store)["web-1", "deploy"]) is None
