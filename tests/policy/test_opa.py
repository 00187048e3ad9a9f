"""The OPA-server engine against a Data-API-compatible test server (no OPA binary is available)."""

from __future__ import annotations

import socket

import pytest

from lockstep.domain.errors import ConfigError
from lockstep.policy.bundle import bundle_revision
from lockstep.policy.engine import make_policy_engine
from lockstep.policy.opa import OpaPolicyEngine
from lockstep.settings import PolicySettings
from tests.policy.conftest import DEFAULT_BUNDLE, SATURDAY, make_input
from tests.policy.opa_server import DataApiServer


def engine_for(server: DataApiServer, timeout: float = 2.0) -> OpaPolicyEngine:
    return OpaPolicyEngine(server.url, bundle_path=DEFAULT_BUNDLE, timeout_seconds=timeout)


def test_allowed_decision_round_trips(data_api: DataApiServer) -> None:
    document = make_input()
    decision = engine_for(data_api).evaluate_deploy(document)
    assert decision.deny == [] and decision.approvals_required == 2
    assert decision.engine == "opa" and decision.bundle_revision == bundle_revision(DEFAULT_BUNDLE)
    path, body = data_api.requests[-1]
    assert path == "/v1/data/lockstep/deploy" and body == {"input": document}


def test_denied_decision_round_trips(data_api: DataApiServer) -> None:
    decision = engine_for(data_api).evaluate_deploy(
        make_input(images={"catalogue-db": ["mongo"]}, message="WIP: later", now=SATURDAY)
    )
    assert decision.denied and len(decision.deny) == 2
    assert (
        'component "catalogue-db": image "mongo" has no tag; production needs a pinned tag' in decision.deny
    )
    assert decision.warn == ['commit 0123456789ab is marked work in progress: "WIP: later"']


def test_drift_round_trips(data_api: DataApiServer) -> None:
    decision = engine_for(data_api).evaluate_drift(
        {"application": "a", "environment": "dev", "item": {"component": "web", "kind": "missing"}}
    )
    assert decision.remediate is False and decision.reasons
    assert data_api.requests[-1][0] == "/v1/data/lockstep/drift"


def test_server_down_denies_naming_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = OpaPolicyEngine(f"http://127.0.0.1:{port}", timeout_seconds=1)
    [reason] = engine.evaluate_deploy(make_input()).deny
    assert reason.startswith(f"policy engine opa at http://127.0.0.1:{port} unreachable: ")
    assert engine.revision == "unknown"
    drift = engine.evaluate_drift({"environment": "dev"})
    assert drift.remediate is False and "unreachable" in drift.reasons[0]


def test_server_error_denies(data_api: DataApiServer) -> None:
    data_api.mode = "error"
    [reason] = engine_for(data_api).evaluate_deploy(make_input()).deny
    assert "answered HTTP 500" in reason and "storage unavailable" in reason


def test_slow_server_denies_after_the_timeout(data_api: DataApiServer) -> None:
    data_api.mode, data_api.delay_seconds = "slow", 1.5
    [reason] = engine_for(data_api, timeout=0.3).evaluate_deploy(make_input()).deny
    assert reason == f"policy engine opa at {data_api.url} timed out after 0.3s"


def test_missing_result_denies_as_undefined(data_api: DataApiServer) -> None:
    data_api.mode = "empty"
    [reason] = engine_for(data_api).evaluate_deploy(make_input()).deny
    assert "returned an undefined decision for data.lockstep.deploy" in reason


def test_factory(data_api: DataApiServer) -> None:
    engine = make_policy_engine(PolicySettings(engine="opa", url=data_api.url, path=str(DEFAULT_BUNDLE)))
    assert engine.name == "opa" and engine.revision == bundle_revision(DEFAULT_BUNDLE)
    assert not engine.evaluate_deploy(make_input()).denied
    with pytest.raises(ConfigError, match=r"policy\.url is not set"):
        make_policy_engine(PolicySettings(engine="opa"))
    with pytest.raises(ConfigError, match="not an http"):
        make_policy_engine(PolicySettings(engine="opa", url="opa:8181"))
    assert make_policy_engine(PolicySettings(path=str(DEFAULT_BUNDLE))).name == "embedded"
