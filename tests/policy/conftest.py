"""Fixtures for the policy tests: the default bundle, temporary bundles, inputs, a Data-API server."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockstep.domain.models import CommitInfo, Plan, PlannedComponent
from lockstep.domain.status import ComponentAction
from lockstep.policy.input import deploy_input
from tests.policy.opa_server import DataApiServer

DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / "policies"
MONDAY = "2026-11-23T10:00:00Z"
SATURDAY = "2026-11-21T10:00:00Z"


def plan_of(images: dict[str, list[str]]) -> Plan:
    components = [
        PlannedComponent(
            name=name,
            kind="kubernetes",
            target="k8s-prod",
            action=ComponentAction.UPDATE,
            reason="content changed",
            content_hash="0" * 64,
            images=list(imgs),
        )
        for name, imgs in images.items()
    ]
    return Plan(components=components, waves=[[c.name for c in components]])


def make_input(
    *,
    environment: str = "production",
    images: dict[str, list[str]] | None = None,
    message: str = "Bump catalogue",
    now: str = MONDAY,
    trigger: str = "promotion",
    actor: str | None = None,
    groups: tuple[str, ...] = (),
) -> dict[str, Any]:
    commit = CommitInfo(
        sha="0123456789abcdef0123456789abcdef01234567",
        author="Ada",
        author_email="ada@example.com",
        message=message,
        timestamp=MONDAY,
    )
    return deploy_input(
        application="shop",
        environment=environment,
        commit=commit,
        trigger=trigger,
        actor=actor,
        groups=groups,
        plan=plan_of(images if images is not None else {"catalogue": ["reg/catalogue:1.4.2"]}),
        approvals=[],
        now=now,
    )


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Callable[..., Path]:
    """A copy of the default bundle, optionally with data.json config keys replaced."""

    def copy(config: dict[str, Any] | None = None) -> Path:
        target = tmp_path / f"bundle-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(DEFAULT_BUNDLE, target)
        if config is not None:
            data = json.loads((target / "data.json").read_text())
            data["lockstep"]["config"].update(config)
            (target / "data.json").write_text(json.dumps(data))
        return target

    return copy


@pytest.fixture(scope="session")
def opa_server() -> Iterator[DataApiServer]:
    server = DataApiServer(DEFAULT_BUNDLE).start()
    yield server
    server.stop()


@pytest.fixture
def data_api(opa_server: DataApiServer) -> Iterator[DataApiServer]:
    opa_server.mode = "ok"
    yield opa_server
    opa_server.mode = "ok"
