"""`health.http` end to end: real Temporal, real Git, the local target, and a loopback HTTP server
whose answer decides whether the deployment succeeds or is rolled back."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.status import DeploymentStatus, StepStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.health.test_http_health import StatusServer
from tests.support.apprepo import commit
from tests.workflows.helpers import current, deploy

pytestmark = [pytest.mark.temporal, pytest.mark.store]


def manifest(url: str) -> str:
    return f"""\
application: shop
environments:
  - name: staging
    targets: {{site: local-test}}
components:
  - name: web
    target: site
    host:
      files: [{{src: web/, dest: /srv/web}}]
    health:
      commands: ["test -f index.html"]
      http: [{{url: "{url}", status: 200}}]
      timeout: 1s
      interval: 100ms
"""


async def test_http_health_decides_success_and_rollback(
    temporal_env: WorkflowEnvironment,
    worker: None,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    app_repo: Path,
    target_root: Path,
) -> None:
    with StatusServer([200]) as server:
        first_sha = commit(
            app_repo,
            {"lockstep.yaml": manifest(server.url), "web/index.html": "<h1>v1</h1>\n"},
            "http health",
        )
        first = await deploy(temporal_env, settings, store, git)
        assert first.status == DeploymentStatus.SUCCEEDED, first.error
        assert current(target_root, "web") == first_sha
        assert server.requests == ["/healthz"]

        server.statuses = [500]
        commit(app_repo, {"web/index.html": "<h1>v2</h1>\n"}, "v2, while the service answers 500")
        second = await deploy(temporal_env, settings, store, git)
    assert second.status == DeploymentStatus.ROLLED_BACK
    assert second.error is not None and server.url in second.error and "status 500" in second.error
    assert current(target_root, "web") == first_sha
    assert (target_root / "srv/web/current/index.html").read_text() == "<h1>v1</h1>\n"
    statuses = {(s.component, s.action): s.status for s in second.steps}
    assert statuses[("web", "health")] == StepStatus.FAILED
    assert statuses[("web", "rollback")] == StepStatus.SUCCEEDED
