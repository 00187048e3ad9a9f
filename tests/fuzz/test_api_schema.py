"""Schemathesis against the API's own OpenAPI document: for every operation, generated requests
(valid and invalid, with a release manager's token and without one) never get a 5xx, and every
answer has a status, content type and body the document declares.

The API runs as it does in production: uvicorn on a loopback port, the real Temporal dev server
behind it, SQLite, a real Git repository configured with a webhook secret. Requests carry the
token unless a case is about authentication; the webhooks stay unsigned (a valid signature over
random bytes would need the secret, and is what tests/fuzz/test_webhook_fuzz.py covers).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from lockstep.settings import Settings
from tests.fuzz.budget import fuzz
from tests.support.api_server import free_port, serving
from tests.support.temporal import address

pytestmark = [pytest.mark.temporal]

TOKEN = "schemathesis-release-manager"


@pytest.fixture
def api_url(settings: Settings, tmp_path: Path, temporal_env: WorkflowEnvironment) -> Iterator[str]:
    raw = settings.model_dump()
    raw["users"] = {
        "alice": {"groups": ["release-managers"], "email": "alice@example.com",
                  "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest()},
    }  # fmt: skip
    raw["repositories"][0]["webhook_secret_env"] = "LOCKSTEP_FUZZ_WEBHOOK_SECRET"
    raw["api"] = {"listen": f"127.0.0.1:{free_port()}"}
    configured = Settings(**raw)
    with serving(configured) as url:
        yield url
    # POST /deployments may have queued real deployments: nothing of this test may outlive it.
    # (A sync test: the session's loop is not running, so a client of its own does the work.)
    asyncio.run(_terminate(address(temporal_env), configured.temporal.task_queue))


async def _terminate(target: str, task_queue: str) -> None:
    client = await Client.connect(target)
    query = f'TaskQueue = "{task_queue}" AND ExecutionStatus = "Running"'
    for _ in range(100):  # visibility follows asynchronously
        running = [e.id async for e in client.list_workflows(query)]
        if not running:
            return
        for workflow_id in running:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(workflow_id).terminate("test finished")
        await asyncio.sleep(0.1)


# Schemathesis's own pytest integration (`from_fixture`) does not run under pytest 9: the test
# walks the operations itself and gives each one's strategies to hypothesis.
@pytest.mark.parametrize(
    ("mode", "token"),
    [(GenerationMode.POSITIVE, TOKEN), (GenerationMode.NEGATIVE, TOKEN), (GenerationMode.POSITIVE, None)],
    ids=["valid-with-token", "invalid-with-token", "valid-without-token"],
)
def test_every_generated_request_gets_a_documented_answer_and_never_a_5xx(
    api_url: str, mode: GenerationMode, token: str | None
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10, [o.label for o in operations]
    exercised = 0
    for operation in operations:
        try:
            _exercise(operation.as_strategy(mode), token)
        except Unsatisfiable:  # nothing of it can be made invalid (e.g. GET /healthz takes nothing)
            assert mode == GenerationMode.NEGATIVE, operation.label
            continue
        exercised += 1
    assert exercised >= 8, "most operations take input that can be generated wrong"


def _exercise(strategy: SearchStrategy[Case[Any]], token: str | None) -> None:
    @fuzz(max_examples=12)
    @given(case=strategy)
    def one(case: Case[Any]) -> None:
        if case.path == "/drift/sweep" and case.query:
            # Waiting for a sweep needs a worker running it, which this API has not: each such
            # case would only time out (tests/api/test_drift_sweep_api.py waits with one).
            case.query = {k: v for k, v in case.query.items() if k != "wait"}
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"} if token else None,
            # A valid-looking order for an application nobody configured is rightly a 422, and
            # a valid token is accepted on purpose: neither says anything wrong about the API.
            excluded_checks=[positive_data_acceptance, ignored_auth],
            timeout=30,
        )

    one()
