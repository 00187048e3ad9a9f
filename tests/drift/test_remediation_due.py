"""When the drift sweep starts a remediation (`lockstep.orchestration.remediations`), from what
the store recorded: only for components whose every open item is decided `remediate`, never for
an `unknown` environment, again after one was superseded or went stale, never again after one
ran; a stale remediation is refused when planned; a running one is adopted by its items. Real
store (SQLite or PostgreSQL), seeded through the store's own functions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lockstep.domain.drift import DriftDecisionName, DriftItem, EnvironmentDrift
from lockstep.orchestration.remediations import (
    adopt_remediation,
    record_remediation,
    remediation_due,
    stale_remediation,
)
from lockstep.store import drift as drift_store
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store

pytestmark = pytest.mark.store

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LIVE, NEWER = "a" * 40, "b" * 40
REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store.from_url(database_url)
    deployment(store, "shop.staging.live", LIVE, "succeeded", trigger="manual")
    yield store
    store.dispose()


def deployment(store: Store, id: str, commit: str, status: str, *, trigger: str = "remediation") -> None:
    with store.session() as session:
        upsert_deployment(
            session=session, id=id, application="shop", environment="staging", commit=commit,
            repository=REPO, trigger=trigger, actor="drift sweep", status=status,
        )  # fmt: skip


def item(component: str, path: str, decision: DriftDecisionName) -> DriftItem:
    stamp = NOW.isoformat()
    return DriftItem(
        application="shop", environment="staging", component=component, target="vms", host="h1",
        kind="modified", path=path, first_seen=stamp, last_seen=stamp, decision=decision,
    )  # fmt: skip


def sweep(store: Store, *items: DriftItem, state: str = "drifted") -> EnvironmentDrift:
    with store.session() as session:
        drift_store.record_sweep(
            session=session, application="shop", environment="staging", seen=list(items),
            state=state, reason=None, pending=[], now=NOW,  # type: ignore[arg-type]
        )  # fmt: skip
        [view] = drift_store.drift_views(session=session, application="shop", environment="staging")
    return view


def test_only_components_whose_every_item_is_to_remediate(store: Store) -> None:
    view = sweep(
        store,
        item("api", "/srv/api/a.conf", "remediate"),
        item("web", "/srv/web/index.html", "remediate"),
        item("web", "/srv/web/other.html", "flag"),  # keeps web as it is
        item("db", "/srv/db/x.sql", "ignore"),
    )
    order = remediation_due(store, view, NOW)
    assert order is not None
    assert (order.commit, order.repository, order.components) == (LIVE, REPO, ("api",))
    assert [k[3] for k in order.items] == ["/srv/api/a.conf"]
    assert remediation_due(store, view.model_copy(update={"state": "unknown"}), NOW) is None

    deployment(store, "shop.staging.live.2", LIVE, "deploying")
    assert record_remediation(store, order, "shop.staging.live.2") == 1
    named = sweep(store, *[item("api", "/srv/api/a.conf", "remediate")])
    assert [i.remediation for i in named.items] == ["shop.staging.live.2"]
    assert remediation_due(store, named, NOW) is None  # one runs


@pytest.mark.parametrize(
    ("status", "commit", "again", "an_hour_later"),
    [
        ("superseded", LIVE, True, True),  # never ran
        ("denied", NEWER, True, True),  # stale: the live commit moved on since
        ("failed", LIVE, False, True),  # tried again with a back-off
        ("rolled_back", LIVE, False, True),
        ("denied", LIVE, False, True),  # outside a change window, say: it opens
        ("rejected", LIVE, False, False),  # a person said no
        ("cancelled", LIVE, False, False),
        ("rollback_failed", LIVE, False, False),  # a person looks at the target first
        ("succeeded", LIVE, False, False),  # and the item stayed: delivering does not change it
        ("awaiting_approval", LIVE, False, False),  # one runs
    ],
)
def test_after_a_remediation_ended(
    store: Store, status: str, commit: str, again: bool, an_hour_later: bool
) -> None:
    deployment(store, "shop.staging.r", commit, status)
    view = sweep(store, item("api", "/srv/api/a.conf", "remediate"))
    order = remediation_due(store, view, NOW)
    assert order is not None
    record_remediation(store, order, "shop.staging.r")
    view = sweep(store, item("api", "/srv/api/a.conf", "remediate"))
    ended = datetime.now(UTC)  # the record's finished_at is stamped by the store as it ends
    assert (remediation_due(store, view, ended) is not None) is again
    assert (remediation_due(store, view, ended + timedelta(hours=1, minutes=1)) is not None) is an_hour_later


def test_failed_remediations_back_off_doubling_then_stop(store: Store) -> None:
    view = sweep(store, item("api", "/srv/api/a.conf", "remediate"))
    for attempt in range(1, 6):
        order = remediation_due(store, view, datetime.now(UTC) + timedelta(days=3))
        assert order is not None, f"attempt {attempt}"
        deployment(store, f"shop.staging.r{attempt}", LIVE, "failed")
        record_remediation(store, order, f"shop.staging.r{attempt}")
        view = sweep(store, item("api", "/srv/api/a.conf", "remediate"))
        ended = datetime.now(UTC)
        back_off = timedelta(hours=2 ** (attempt - 1))
        if attempt < 5:
            assert remediation_due(store, view, ended + back_off - timedelta(minutes=2)) is None
            assert remediation_due(store, view, ended + back_off + timedelta(minutes=1)) is not None
    assert remediation_due(store, view, datetime.now(UTC) + timedelta(days=30)) is None  # five failed


def test_a_stale_remediation_is_refused_and_a_running_one_adopted(store: Store) -> None:
    assert stale_remediation(store, "shop", "staging", LIVE) is None
    why = stale_remediation(store, "shop", "staging", NEWER)
    assert why is not None and why.startswith(
        f"remediation of {NEWER[:12]} is stale: {LIVE[:12]} is live now"
    )

    sweep(store, item("api", "/srv/api/a.conf", "remediate"), item("web", "/srv/web/i.html", "flag"))
    deployment(store, "shop.staging.manual", LIVE, "deploying", trigger="manual")
    assert adopt_remediation(store, "shop", "staging", "shop.staging.manual") is None
    deployment(store, "shop.staging.r", LIVE, "deploying")
    assert adopt_remediation(store, "shop", "staging", "shop.staging.r") == "shop.staging.r"
    view = sweep(store, item("api", "/srv/api/a.conf", "remediate"), item("web", "/srv/web/i.html", "flag"))
    assert {i.component: i.remediation for i in view.items} == {"api": "shop.staging.r", "web": None}
