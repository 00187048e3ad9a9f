"""The registry of deliverers: every kind the manifest knows has one, an unknown kind is named."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from lockstep.delivery.kinds import deliverers
from lockstep.domain.errors import ConfigError
from lockstep.domain.models import ComponentKind
from lockstep.store.engine import Store
from lockstep.targets.registry import TargetRegistry


def test_every_component_kind_has_a_deliverer(tmp_path: Path) -> None:
    registry = deliverers(
        targets=TargetRegistry({}), store=Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    )
    assert registry.kinds() == sorted(typing.get_args(ComponentKind))
    for kind in registry.kinds():
        assert registry.for_kind(kind).kind == kind


def test_an_unknown_kind_is_named_with_the_known_ones(tmp_path: Path) -> None:
    registry = deliverers(
        targets=TargetRegistry({}), store=Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    )
    with pytest.raises(ConfigError, match=r"'helm'.*host, kubernetes"):
        registry.for_kind("helm")
