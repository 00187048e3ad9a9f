"""The activity interfaces the workflows call (`workflows.activity_interfaces`) match the
implementations the worker registers: the same activities, each under the same name, taking and
returning the same types. A stub that drifted would schedule an activity no worker runs, or
decode its result as the wrong type."""

from __future__ import annotations

import pytest
from temporalio import activity

from activities.deployment import DeploymentActivities
from activities.drift import DriftActivities
from activities.governance import GovernanceActivities
from activities.lane import LaneActivities
from activities.polling import PollingActivities
from activities.records import RecordActivities
from lockstep.domain import temporal_names
from workflows import activity_interfaces

IMPLEMENTATIONS: list[type] = [
    DeploymentActivities,
    DriftActivities,
    GovernanceActivities,
    LaneActivities,
    PollingActivities,
    RecordActivities,
]


def _activities(cls: type) -> dict[str, tuple[str | None, list[type] | None, type | None]]:
    """Each activity method of `cls`: its registered name, argument and result types."""
    found = {}
    for attribute, member in vars(cls).items():
        definition = activity._Definition.from_callable(member) if callable(member) else None
        if definition is not None:
            found[attribute] = (definition.name, definition.arg_types, definition.ret_type)
    return found


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_each_interface_matches_its_implementation(implementation: type) -> None:
    interface = getattr(activity_interfaces, implementation.__name__)
    assert _activities(interface) == _activities(implementation)


def test_every_interface_has_an_implementation() -> None:
    interfaces = {n for n, v in vars(activity_interfaces).items() if isinstance(v, type) and _activities(v)}
    assert interfaces == {c.__name__ for c in IMPLEMENTATIONS}


def test_every_activity_name_is_one_of_the_shared_names() -> None:
    registered = {name for cls in IMPLEMENTATIONS for name, _, _ in _activities(cls).values()}
    shared = {v for n, v in vars(temporal_names).items() if n.isupper() and isinstance(v, str)}
    assert registered <= shared
