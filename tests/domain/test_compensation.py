"""The final status after compensation, and the detail of a failed rollback."""

from __future__ import annotations

import pytest

from lockstep.domain.compensation import compensated_status, rollback_failed_detail
from lockstep.domain.status import DeploymentStatus


@pytest.mark.parametrize(
    ("cancelled", "rejected", "undone", "status"),
    [
        (False, False, True, DeploymentStatus.ROLLED_BACK),
        (False, False, False, DeploymentStatus.FAILED),  # refused before any change
        (True, False, True, DeploymentStatus.CANCELLED),
        (True, False, False, DeploymentStatus.CANCELLED),
        (True, True, True, DeploymentStatus.REJECTED),
        (True, True, False, DeploymentStatus.REJECTED),
        (False, True, False, DeploymentStatus.FAILED),  # a rejection counts only as the cause
    ],
)
def test_compensated_status(cancelled: bool, rejected: bool, undone: bool, status: DeploymentStatus) -> None:
    assert compensated_status(cancelled=cancelled, rejected=rejected, undone=undone) == status


def test_the_detail_names_each_component_and_what_its_rollback_said() -> None:
    detail = rollback_failed_detail(
        "web: health failed on 10.0.0.6:22",
        [("web", "not rolled back on 1 of 3 hosts: 10.0.0.5:22 (unreachable: cannot connect)"), ("api", "x")],
    )
    assert detail == (
        "web: health failed on 10.0.0.6:22; rollback failed for "
        "web: not rolled back on 1 of 3 hosts: 10.0.0.5:22 (unreachable: cannot connect); api: x"
    )
    long = rollback_failed_detail("r", [("web", "y" * 5000)])
    assert len(long) < 1100 and long.endswith("…")
