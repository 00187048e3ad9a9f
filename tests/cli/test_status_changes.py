"""`lockstep status <id>` shows what each step changed: counts and the changed subjects in the
table (bounded), and the full stored change set as `changes` on each step of `--output json`."""

from __future__ import annotations

import json
from pathlib import Path

from lockstep.cli.output import SHOWN_CHANGES
from lockstep.devstack.demo import write_dev_config
from lockstep.domain.changes import Change, ChangeAction, ChangeSet
from lockstep.store import Store
from lockstep.store.deployments import upsert_deployment
from lockstep.store.steps import record_step, record_step_changes
from tests.cli.conftest import Cli

DEPLOYMENT = "shop-staging-0d1a26e67d"


def _seed(database_url: str) -> None:
    web1 = ChangeSet(
        location="web-1",
        changes=[
            Change(subject="/srv/api/app.conf", action=ChangeAction.CONFIGURED, summary="2 lines changed"),
            *(Change(subject=f"/srv/api/keep{i}", action=ChangeAction.UNCHANGED) for i in range(4)),
        ],
    )
    web2 = ChangeSet(
        location="web-2",
        changes=[Change(subject=f"/srv/api/new{i:02}", action=ChangeAction.CREATED) for i in range(25)],
    )
    cluster = ChangeSet(changes=[Change(subject="ConfigMap/shop/api", action=ChangeAction.CREATED)])
    store = Store.from_url(database_url)
    with store.session() as session:
        upsert_deployment(
            session=session,
            id=DEPLOYMENT,
            application="shop",
            environment="staging",
            commit="0d1a26e67d" * 4,
            repository="/srv/shop",
            trigger="manual",
            actor="alice",
            status="succeeded",
        )
        for component, host, action in [
            ("api", "web-1", "deploy"),
            ("api", "web-2", "deploy"),
            ("api", "web-1", "health"),
            ("worker", "", "deploy"),
        ]:
            record_step(
                session=session,
                deployment_id=DEPLOYMENT,
                component=component,
                host=host,
                action=action,
                status="succeeded",
            )
        for component, sets in [("api", [web1, web2]), ("worker", [cluster])]:
            record_step_changes(
                session=session,
                deployment_id=DEPLOYMENT,
                component=component,
                action="deploy",
                change_sets=sets,
            )
    store.dispose()


async def test_status_shows_each_steps_changes(tmp_path: Path) -> None:
    config = write_dev_config(tmp_path / "state", temporal_port=1, api_listen="127.0.0.1:1")
    _seed(f"sqlite:///{(tmp_path / 'state' / 'lockstep.db').resolve()}")
    cli = Cli(config=config, cwd=tmp_path)

    as_json = await cli("status", DEPLOYMENT, "--output", "json")
    assert as_json.code == 0, as_json.stderr
    steps = {(s["component"], s["host"], s["action"]): s for s in json.loads(as_json.stdout)["steps"]}
    web1 = steps["api", "web-1", "deploy"]["changes"]
    assert web1["counts"] == {"created": 0, "configured": 1, "unchanged": 4, "deleted": 0}
    assert web1["summary"] == "1 configured, 4 unchanged"
    assert web1["items"][0] == {
        "subject": "/srv/api/app.conf",
        "action": "configured",
        "summary": "2 lines changed",
    }
    assert len(web1["items"]) == 5 and web1["truncated"] is False and web1["unreachable"] is None
    assert len(steps["api", "web-2", "deploy"]["changes"]["items"]) == 25
    assert steps["worker", "", "deploy"]["changes"]["items"] == [
        {"subject": "ConfigMap/shop/api", "action": "created", "summary": ""}
    ]
    assert steps["api", "web-1", "health"]["changes"] is None

    table = await cli("status", DEPLOYMENT)
    assert table.code == 0, table.stderr
    assert "1 configured, 4 unchanged" in table.stdout
    assert "configured /srv/api/app.conf" in table.stdout
    assert "/srv/api/keep" not in table.stdout, "unchanged subjects are counted, not listed"
    assert "25 created" in table.stdout
    listed = [f"created /srv/api/new{i:02}" for i in range(25)]
    assert all(line in table.stdout for line in listed[:SHOWN_CHANGES])
    assert not any(line in table.stdout for line in listed[SHOWN_CHANGES:])
    assert f"... and {25 - SHOWN_CHANGES} more" in table.stdout
    assert "created ConfigMap/shop/api" in table.stdout
