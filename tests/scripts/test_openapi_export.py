"""docs/openapi.json is the OpenAPI document of the API as it stands, written the same way every
time, whatever the machine's configuration."""

from __future__ import annotations

import json

import pytest

from scripts import gen_openapi


def test_docs_openapi_json_is_current() -> None:
    on_disk = gen_openapi.TARGET.read_text(encoding="utf-8") if gen_openapi.TARGET.exists() else ""
    assert on_disk == gen_openapi.render(), (
        f"docs/openapi.json is stale: run `make docs` ({gen_openapi.COMMAND}) and commit it"
    )


def test_the_export_ignores_the_environment_and_reads_need_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKSTEP_API__ANONYMOUS_READ", "true")
    monkeypatch.setenv("LOCKSTEP_CONFIG", "/nonexistent/lockstep-server.yaml")
    spec = json.loads(gen_openapi.render())
    assert "401" in spec["paths"]["/deployments"]["get"]["responses"]
    assert {"/deployments", "/deployments/{deployment_id}/approve", "/webhooks/github", "/readyz"} <= set(
        spec["paths"]
    )
    assert "SPEC" not in json.dumps(spec)
