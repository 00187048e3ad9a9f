"""Small applications whose one deployment command can be held at a gate, for the lane tests
(tests/workflows/test_lane_ids.py, test_lane_join.py), and what those tests read back.

The command logs `start <sha>`, waits for the app's gate file (at most 90 s), and logs
`end <sha>`: a test holds a deployment mid-change, and reads afterwards what overlapped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from lockstep.domain.lane_messages import Enqueued, LaneView
from lockstep.orchestration.lanes import enqueue_deployment
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.apprepo import commit
from tests.workflows.history_versions import record_history


def unique(name: str) -> str:
    """`name` with a suffix: workflow ids of one name outlive a test on the shared dev server."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class GatedApp:
    name: str
    environment: str
    repo: Path
    log: Path
    gate: Path

    def manifest(self) -> str:
        wait = f"i=0; while [ ! -f {self.gate} ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done"
        return f"""\
application: {self.name}
environments:
  - name: {self.environment}
    branch: main
    targets: {{site: local-{self.name}}}
components:
  - name: web
    target: site
    host:
      files: [{{src: web/, dest: /srv/web}}]
      deploy:
        - "echo start $LOCKSTEP_COMMIT >> {self.log}"
        - "{wait}"
        - "echo end $LOCKSTEP_COMMIT >> {self.log}"
"""

    def push(self, version: str) -> str:
        return commit(
            self.repo, {"lockstep.yaml": self.manifest(), "web/index.html": f"{version}\n"}, version
        )

    def events(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def gated_app(tmp_path: Path, name: str, environment: str) -> GatedApp:
    return GatedApp(
        name, environment, tmp_path / f"repo-{name}", tmp_path / f"{name}.log", tmp_path / f"{name}.gate"
    )


def with_apps(settings: Settings, tmp_path: Path, apps: list[GatedApp]) -> Settings:
    raw = settings.model_dump()
    for app in apps:
        raw["targets"][f"local-{app.name}"] = {"type": "local", "root": str(tmp_path / f"target-{app.name}")}
        raw["repositories"].append({"url": str(app.repo), "name": f"acme/{app.name}-{app.environment}"})
    raw["deployment"]["command_timeout"] = "120s"  # a deployment may be held at its gate a while
    return Settings(**raw)


async def enqueue(
    env: WorkflowEnvironment, settings: Settings, store: Store, app: GatedApp, sha: str
) -> Enqueued:
    return await enqueue_deployment(
        client=env.client,
        settings=settings,
        store=store,
        application=app.name,
        environment=app.environment,
        repository=str(app.repo),
        commit=sha,
        trigger="webhook",
        actor="octocat",
    )


async def until(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


async def workflow_status(env: WorkflowEnvironment, workflow_id: str) -> WorkflowExecutionStatus | None:
    try:
        return (await env.client.get_workflow_handle(workflow_id).describe()).status
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def lane_view(env: WorkflowEnvironment, workflow_id: str) -> LaneView:
    view: LaneView = await env.client.get_workflow_handle(workflow_id).query("status", result_type=LaneView)
    return view


async def record_histories(env: WorkflowEnvironment, workflows: dict[str, str]) -> None:
    """With LOCKSTEP_RECORD_HISTORIES=1, save these runs for tests/workflows/test_replay.py, each
    once, in today's version directory (tests/workflows/history_versions.py)."""
    for name, workflow_id in workflows.items():
        await record_history(env.client.get_workflow_handle(workflow_id), name)
