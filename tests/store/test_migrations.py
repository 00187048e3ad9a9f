"""An existing system of record gains the columns a newer version added, and keeps its rows."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from lockstep.domain.changes import ChangeSet
from lockstep.store import Store, make_engine
from lockstep.store.deployments import get_deployment, set_deployment_status
from lockstep.store.migrations import upgrade_schema
from lockstep.store.steps import record_step_changes, step_changes, steps_for

pytestmark = pytest.mark.store


def test_a_database_from_before_approvals_required_gains_the_column(database_url: str) -> None:
    old = Store.from_url(database_url)
    with old.engine.begin() as connection:  # as the previous version created it
        connection.execute(text("ALTER TABLE deployments DROP COLUMN approvals_required"))
        connection.execute(text("ALTER TABLE deployments DROP COLUMN rules_json"))
        connection.execute(
            text(
                'INSERT INTO deployments (id, application, environment, "commit", repository, trigger,'
                " status, plan_json, created_at, updated_at) VALUES ('shop-production-1', 'shop',"
                " 'production', 'abc', '/srv/shop', 'promotion', 'awaiting_approval', '{}',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    old.dispose()
    assert "approvals_required" not in {
        c["name"] for c in inspect(make_engine(database_url)).get_columns("deployments")
    }

    reader = Store.open_existing(database_url)  # `lockstep list` before the worker is restarted
    with reader.read_session() as session:
        assert get_deployment(session=session, deployment_id="shop-production-1") is not None
    reader.dispose()
    store = Store.from_url(database_url)  # what every process does at start
    with store.session() as session:
        set_deployment_status(
            session=session, deployment_id="shop-production-1", status="succeeded", approvals_required=2
        )
    with store.session() as session:
        record = get_deployment(session=session, deployment_id="shop-production-1")
        assert record is not None and (record.status, record.approvals_required) == ("succeeded", 2)
    assert upgrade_schema(store.engine) == [], "nothing left to add"
    store.dispose()


def test_a_database_from_before_step_changes_gains_the_column(database_url: str) -> None:
    old = Store.from_url(database_url)
    with old.engine.begin() as connection:  # as the version before change sets created it
        connection.execute(text("ALTER TABLE deployment_steps DROP COLUMN changes"))
        connection.execute(
            text(
                "INSERT INTO deployment_steps (deployment_id, component, host, action, status, attempt,"
                " output) VALUES ('d1', 'api', 'web-1', 'deploy', 'succeeded', 1, 'switched')"
            )
        )
    old.dispose()

    store = Store.from_url(database_url)  # what every process does at start
    assert "changes" in {c["name"] for c in inspect(store.engine).get_columns("deployment_steps")}
    with store.session() as session:
        [row] = steps_for(session=session, deployment_id="d1")
        assert (row.output, row.changes, step_changes(row)) == ("switched", None, None)
        skipped = record_step_changes(
            session=session,
            deployment_id="d1",
            component="api",
            action="deploy",
            change_sets=[ChangeSet(location="web-1")],
        )
        assert skipped == []
    with store.session() as session:
        [row] = steps_for(session=session, deployment_id="d1")
        assert step_changes(row) == ChangeSet(location="web-1")
    assert upgrade_schema(store.engine) == [], "nothing left to add"
    store.dispose()
