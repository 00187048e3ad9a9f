"""Component revisions: idempotent recording and the newest revision per component."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from lockstep.domain.models import DeployedRevision
from lockstep.store import Store
from lockstep.store.deployments import last_revisions, record_revisions
from lockstep.store.tables import ComponentRevisionRecord


def record(store: Store, deployment_id: str, commit: str, hashes: dict[str, str], **overrides: Any) -> None:
    fields: dict[str, Any] = {"application": "shop", "environment": "staging"}
    fields.update(overrides)
    with store.session() as session:
        record_revisions(session=session, deployment_id=deployment_id, commit=commit, hashes=hashes, **fields)


def live(
    store: Store, application: str = "shop", environment: str = "staging"
) -> dict[str, DeployedRevision]:
    with store.session() as session:
        return last_revisions(session=session, application=application, environment=environment)


def rows(store: Store) -> list[dict[str, Any]]:
    with store.session() as session:
        query = select(ComponentRevisionRecord).order_by(col(ComponentRevisionRecord.id))
        return [r.model_dump() for r in session.exec(query).all()]


def test_nothing_recorded() -> None:
    store = Store.from_url("sqlite://")
    assert live(store) == {}


def test_recording_twice_changes_nothing(store: Store) -> None:
    record(store, "d1", "c1", {"web": "h-web", "db": "h-db"})
    before = rows(store)
    record(store, "d1", "c1", {"web": "h-web", "db": "h-db"})
    assert rows(store) == before
    assert len(before) == 2


def test_last_revisions_picks_the_newest_per_component(store: Store) -> None:
    record(store, "d1", "c1", {"web": "web-1", "db": "db-1", "api": "api-1"})
    record(store, "d2", "c2", {"web": "web-2"})
    record(store, "d3", "c3", {"web": "web-3", "api": "api-3"})
    record(store, "d1", "c1", {"web": "web-1", "db": "db-1", "api": "api-1"})  # a late retry of d1

    assert live(store) == {
        "web": DeployedRevision(component="web", commit="c3", content_hash="web-3", deployment_id="d3"),
        "api": DeployedRevision(component="api", commit="c3", content_hash="api-3", deployment_id="d3"),
        "db": DeployedRevision(component="db", commit="c1", content_hash="db-1", deployment_id="d1"),
    }


def test_last_revisions_are_per_application_and_environment(store: Store) -> None:
    record(store, "s1", "c1", {"web": "staging"})
    record(store, "p1", "c0", {"web": "production"}, environment="production")
    record(store, "b1", "c9", {"web": "blog"}, application="blog")

    assert live(store)["web"].content_hash == "staging"
    assert live(store, environment="production")["web"].content_hash == "production"
    assert live(store, application="blog")["web"].content_hash == "blog"
    assert live(store, application="blog", environment="production") == {}


def test_last_revisions_over_many_deployments(store: Store) -> None:
    components = [f"c{n}" for n in range(20)]
    for d in range(100):
        # every deployment touches a rotating third of the components
        touched = {c: f"{c}@{d}" for i, c in enumerate(components) if (i + d) % 3 == 0}
        record(store, f"d{d:03}", f"commit{d}", touched)

    result = live(store)
    assert set(result) == set(components)
    for i, c in enumerate(components):
        last = max(d for d in range(100) if (i + d) % 3 == 0)
        assert result[c].deployment_id == f"d{last:03}"
        assert result[c].content_hash == f"{c}@{last}"
