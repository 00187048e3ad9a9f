"""Deployment records: idempotent upserts, status transitions that never regress, listing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from lockstep.domain.status import DeploymentStatus
from lockstep.store import Store
from lockstep.store.deployments import (
    count_attempts,
    get_deployment,
    list_deployments,
    set_deployment_status,
    upsert_deployment,
)
from lockstep.store.drift import last_touched
from lockstep.store.tables import DeploymentRecord, as_utc


def upsert(
    session: Session, deployment_id: str = "shop-staging-abc1234", **overrides: Any
) -> DeploymentRecord:
    fields: dict[str, Any] = {
        "application": "shop",
        "environment": "staging",
        "commit": "abc1234",
        "repository": "https://git.example.com/shop.git",
        "trigger": "webhook",
        "actor": "alice",
        "status": "queued",
    }
    fields.update(overrides)
    return upsert_deployment(session=session, id=deployment_id, **fields)


def snapshot(store: Store, deployment_id: str = "shop-staging-abc1234") -> dict[str, Any]:
    with store.session() as session:
        record = get_deployment(session=session, deployment_id=deployment_id)
        assert record is not None
        return record.model_dump()


def test_upsert_inserts_with_defaults(store: Store) -> None:
    with store.session() as session:
        record = upsert(session)

    assert record.status == "queued"
    assert record.plan_json == "{}"
    assert record.error is None and record.finished_at is None
    assert record.created_at == record.updated_at
    assert snapshot(store)["trigger"] == "webhook"


def test_upsert_strips_credentials_from_the_repository(store: Store) -> None:
    with store.session() as session:
        upsert(session, repository="https://bot:t0ken@git.example.com/shop.git")
    assert snapshot(store)["repository"] == "https://git.example.com/shop.git"


def test_upsert_twice_changes_nothing(store: Store) -> None:
    with store.session() as session:
        upsert(session, plan_json='{"components": []}')
    first = snapshot(store)
    with store.session() as session:
        upsert(session, plan_json='{"components": []}')
    assert snapshot(store) == first


def test_upsert_updates_given_fields_only(store: Store) -> None:
    with store.session() as session:
        upsert(session, plan_json='{"a": 1}', error="first")
    with store.session() as session:
        upsert(session, status="deploying", actor=None)
    after = snapshot(store)

    assert after["status"] == "deploying"
    assert after["actor"] == "alice"  # None leaves a field alone
    assert after["plan_json"] == '{"a": 1}'
    assert after["error"] == "first"
    assert after["updated_at"] > after["created_at"]


def test_upsert_never_regresses_a_final_status(store: Store) -> None:
    with store.session() as session:
        upsert(session, status="succeeded")
    finished = snapshot(store)["finished_at"]
    with store.session() as session:
        upsert(session, status="planning")  # a late retry of the first write

    after = snapshot(store)
    assert after["status"] == "succeeded"
    assert after["finished_at"] == finished is not None


def test_set_status_sets_finished_at_once(store: Store) -> None:
    with store.session() as session:
        upsert(session)
        set_deployment_status(session=session, deployment_id="shop-staging-abc1234", status="deploying")
    assert snapshot(store)["finished_at"] is None

    with store.session() as session:
        set_deployment_status(
            session=session, deployment_id="shop-staging-abc1234", status="failed", error="health check"
        )
    failed = snapshot(store)
    with store.session() as session:
        set_deployment_status(
            session=session, deployment_id="shop-staging-abc1234", status="failed", error="health check"
        )

    assert failed["status"] == "failed" and failed["error"] == "health check"
    assert failed["finished_at"] is not None
    assert snapshot(store) == failed


def test_set_status_ignores_a_non_final_status_after_a_final_one(store: Store) -> None:
    with store.session() as session:
        upsert(session)
        set_deployment_status(session=session, deployment_id="shop-staging-abc1234", status="rolled_back")
    before = snapshot(store)
    with store.session() as session:
        set_deployment_status(session=session, deployment_id="shop-staging-abc1234", status="rolling_back")
    assert snapshot(store) == before


def test_set_status_may_move_between_final_statuses(store: Store) -> None:
    with store.session() as session:
        upsert(session)
        set_deployment_status(session=session, deployment_id="shop-staging-abc1234", status="failed")
        set_deployment_status(session=session, deployment_id="shop-staging-abc1234", status="rolled_back")
    assert snapshot(store)["status"] == "rolled_back"


def test_set_status_stores_the_plan(store: Store) -> None:
    with store.session() as session:
        upsert(session)
        set_deployment_status(
            session=session,
            deployment_id="shop-staging-abc1234",
            status="planning",
            plan_json='{"waves": []}',
        )
    assert snapshot(store)["plan_json"] == '{"waves": []}'


def test_unknown_status_and_unknown_deployment_are_refused(store: Store) -> None:
    with pytest.raises(ValueError), store.session() as session:
        upsert(session, status="exploded")
    with pytest.raises(LookupError), store.session() as session:
        set_deployment_status(session=session, deployment_id="nope", status="failed")


def test_get_deployment(store: Store) -> None:
    with store.session() as session:
        upsert(session)
        assert get_deployment(session=session, deployment_id="missing") is None
        found = get_deployment(session=session, deployment_id="shop-staging-abc1234")
    assert found is not None and found.commit == "abc1234"


def test_list_deployments_filters_newest_first(store: Store) -> None:
    with store.session() as session:
        upsert(session, "shop-staging-1", status="succeeded")
        upsert(session, "shop-production-1", environment="production", status="failed")
        upsert(session, "blog-staging-1", application="blog", status="succeeded")
        upsert(session, "shop-staging-2", status="deploying")

    def ids(**filters: Any) -> list[str]:
        with store.session() as session:
            return [r.id for r in list_deployments(session=session, **filters)]

    assert ids() == ["shop-staging-2", "blog-staging-1", "shop-production-1", "shop-staging-1"]
    assert ids(application="shop") == ["shop-staging-2", "shop-production-1", "shop-staging-1"]
    assert ids(application="shop", environment="staging") == ["shop-staging-2", "shop-staging-1"]
    assert ids(status="succeeded") == ["blog-staging-1", "shop-staging-1"]
    assert ids(status=DeploymentStatus.FAILED) == ["shop-production-1"]
    assert ids(application="shop", environment="staging", status="succeeded") == ["shop-staging-1"]
    assert ids(limit=2) == ["shop-staging-2", "blog-staging-1"]
    assert ids(application="nope") == []


def test_count_attempts_counts_one_deployment_and_its_attempts_only(store: Store) -> None:
    """Exactly the base and its `.n` attempts: not another commit sharing a prefix, not an
    older-format id, not another environment whose names join to the same text."""
    with store.session() as session:
        for deployment_id in (
            "shop.staging.0d1a26e67d",
            "shop.staging.0d1a26e67d.2",
            "shop.staging.0d1a26e67d.3",
            "shop.staging.0d1a26e67e",
            "shop-staging-0d1a26e67d",  # the older format's id for the same commit stays apart
            "shop.staging-eu.0d1a26e67d",
            "shop_staging.0d1a26e67d",
            "shopXstaging.0d1a26e67d.2",
        ):
            upsert(session, deployment_id)

    with store.session() as session:
        assert count_attempts(session=session, base="shop.staging.0d1a26e67d") == 3
        assert count_attempts(session=session, base="shop.staging-eu.0d1a26e67d") == 1
        assert count_attempts(session=session, base="shop.staging.0d1a26e6") == 0  # no prefix match
        assert count_attempts(session=session, base="shop_staging.0d1a26e67d") == 1  # "_" is literal
        assert count_attempts(session=session, base="shop%") == 0
        assert count_attempts(session=session, base="") == 0


def test_last_touched_is_when_a_deployment_of_the_environment_last_changed(store: Store) -> None:
    with store.session() as session:
        assert last_touched(session=session, application="shop", environment="staging") is None
        upsert(session)
        upsert(session, "shop-prod-abc1234", environment="prod")
    with store.session() as session:
        set_deployment_status(session=session, deployment_id="shop-staging-abc1234", status="succeeded")
    with store.session() as session:
        touched = last_touched(session=session, application="shop", environment="staging")
        record = get_deployment(session=session, deployment_id="shop-staging-abc1234")
        assert record is not None and record.finished_at is not None
        assert touched is not None and touched.tzinfo is not None
        assert touched == as_utc(record.updated_at) >= as_utc(record.finished_at)
