"""An ssh target nothing answers on: the environment is `unknown` with each component's reason,
never `in_sync`, and the items recorded before are kept open (not seeing them resolves nothing).
The live revision is seeded in the store as a succeeded deployment would leave it."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lockstep.domain.drift import DriftItem
from lockstep.drift.parts import sweep_parts
from lockstep.drift.sweep import drift_views, environments_to_sweep, sweep_environment
from lockstep.settings import Settings
from lockstep.store import drift as drift_store
from lockstep.store.deployments import upsert_deployment
from lockstep.store.engine import Store
from lockstep.store.revisions import record_revisions

pytestmark = pytest.mark.store

EARLIER = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_host_that_cannot_be_reached_makes_the_environment_unknown(
    database_url: str, app_repo: Path, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    settings = Settings(
        database_url=database_url,
        state_dir=str(tmp_path / "state"),
        repositories=[{"url": str(app_repo)}],
        targets={
            "local-test": {
                "type": "ssh",
                "hosts": ["127.0.0.1:9"],  # the discard port: nothing listens
                "user": "deploy",
                "known_hosts": str(known_hosts),
                "connect_timeout": "2s",
            }
        },
    )
    store = Store.from_url(database_url)
    sha = subprocess.run(
        ["git", "-C", str(app_repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with store.session() as session:
        upsert_deployment(
            session=session, id="shop.staging.1", application="shop", environment="staging", commit=sha,
            repository=str(app_repo), trigger="manual", actor="alice", status="succeeded",
        )  # fmt: skip
        record_revisions(
            session=session, application="shop", environment="staging", deployment_id="shop.staging.1",
            commit=sha, hashes={"db": "h1", "api": "h2", "web": "h3"},
        )  # fmt: skip
        earlier = DriftItem(
            application="shop", environment="staging", component="web", target="local-test",
            host="127.0.0.1:9", kind="modified", path="/srv/web/index.html",
            first_seen=EARLIER.isoformat(), last_seen=EARLIER.isoformat(),
        )  # fmt: skip
        drift_store.record_sweep(
            session=session, application="shop", environment="staging", seen=[earlier],
            state="drifted", reason=None, pending=[], now=EARLIER,
        )  # fmt: skip

    [(application, environment, repository)] = environments_to_sweep(store)
    assert (application, environment, repository) == ("shop", "staging", str(app_repo))
    parts = sweep_parts(settings, store)
    view = sweep_environment(
        store=store,
        renderer=parts.renderer,
        deliverers=parts.deliverers,
        policy=parts.policy,
        application=application,
        environment=environment,
        repository=repository,
        now=EARLIER + timedelta(minutes=5),
    )

    assert view.state == "unknown"
    assert view.reason is not None
    assert view.reason.split("; ") == [
        f"{component}: 127.0.0.1:9: cannot connect: Connection refused" for component in ("api", "db", "web")
    ]
    [kept] = view.items  # not seen, but not resolved: the host could not be looked at
    assert (kept.path, kept.resolved_at, kept.first_seen) == (
        "/srv/web/index.html",
        None,
        EARLIER.isoformat(),
    )
    assert drift_views(store)[0].state == "unknown"
    store.dispose()
