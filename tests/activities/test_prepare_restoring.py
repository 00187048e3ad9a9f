"""A remediation promotes nothing and plans the named components only; a rollback promotes as
any success does: the `prepare_deployment` activity in a real activity context over real Git and
a local target. A remediation that promoted would retry a failed deployment of the live commit
further down."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.deployment import DeploymentActivities
from activities.threads import ActivityThreads
from lockstep.delivery.kinds import deliverers
from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.messages import DeploymentRequest
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.targets.registry import TargetRegistry
from tests.support.apprepo import commit

MANIFEST = """\
application: shop
environments:
  - {name: staging, branch: main, targets: {vms: local-test}}
  - {name: production, branch: main, promote_from: staging, targets: {vms: local-prod}}
components:
  - {name: api, target: vms, host: {files: [{src: api/, dest: /srv/api}]}}
  - {name: web, target: vms, depends_on: [api], host: {files: [{src: web/, dest: /srv/web}]}}
"""


@pytest.mark.parametrize(
    ("trigger", "components", "promotions", "planned"),
    [
        ("manual", [], ["production"], ["api", "web"]),
        ("rollback", [], ["production"], ["api", "web"]),  # as any success (docs/concepts.md)
        ("remediation", ["web"], [], ["web"]),
    ],
)
async def test_what_prepare_plans_and_promotes_by_trigger(
    tmp_path: Path, trigger: str, components: list[str], promotions: list[str], planned: list[str]
) -> None:
    repo = tmp_path / "shop"
    files = {"lockstep.yaml": MANIFEST, "api/a.conf": "a=1\n", "web/index.html": "<h1>hi</h1>\n"}
    sha = commit(repo, files, "first")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        state_dir=str(tmp_path / "state"),
        targets={
            "local-test": {"type": "local", "root": str(tmp_path / "target")},
            "local-prod": {"type": "local", "root": str(tmp_path / "prod")},
        },
    )
    targets = TargetRegistry(settings.targets)
    store = Store.from_url(settings.database_url)
    threads = ActivityThreads(activities=2, local_activities=1)
    activities = DeploymentActivities(
        store=store,
        renderer=CommitRenderer(GitMirrors(settings.mirrors_dir), targets.types()),
        targets=targets,
        deliverers=deliverers(targets=targets, store=store),
        threads=threads,
    )
    request = DeploymentRequest(
        deployment_id="shop.staging.1",
        application="shop",
        environment="staging",
        repository=str(repo),
        commit=sha,
        trigger=trigger,
        components=components,
    )
    try:
        result = await ActivityEnvironment().run(activities.prepare, request)
    finally:
        threads.shutdown()
        store.dispose()
    assert result.promotions == promotions
    assert [c.name for c in result.plan.components] == planned
