"""Command output is stored with known secrets masked (issue: reads leak; docs/configuration.md: secrets are
never written to the database).

A deploy command prints a value the server configuration marks secret (`secret_env`) and fails;
the step record, read straight from the database, holds `***` where the value was, and so does
the audit trail. Real Temporal, a real local target, the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.audit import events_for
from lockstep.store.engine import Store
from lockstep.store.steps import steps_for
from tests.support.apprepo import commit, three_tier_files
from tests.workflows.helpers import deploy

pytestmark = [pytest.mark.temporal, pytest.mark.store]

SECRET = "s3cr3t-deploy-token-7f41c2"


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Set before the worker is built: it masks with the values its environment holds.
    monkeypatch.setenv("LOCKSTEP_TEST_DEPLOY_SECRET", SECRET)
    return Settings(**{**settings.model_dump(), "secret_env": ["LOCKSTEP_TEST_DEPLOY_SECRET"]})


async def test_a_secret_a_command_prints_is_masked_before_it_is_stored(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    counters: Path,
) -> None:
    files = three_tier_files(counters, api_deploy_extra="; echo token=$(cat token.txt); exit 3")
    commit(app_repo, {**files, "api/token.txt": SECRET + "\n"}, "api prints a secret, then fails")

    view = await deploy(temporal_env, settings, store, git)

    assert view.status == DeploymentStatus.ROLLED_BACK, view.error
    with store.session() as session:
        stored = {
            (s.component, s.action): s.output or "" for s in steps_for(session=session, deployment_id=view.id)
        }
        audited = " ".join(e.detail_json for e in events_for(session=session, deployment_id=view.id))
    assert "token=***" in stored[("api", "deploy")], stored[("api", "deploy")]
    assert all(SECRET not in output for output in stored.values())
    assert SECRET not in audited
