"""The old branch of `nothing-to-undo`, run on purpose on a real sshd fleet (see
tests/workflows/test_old_branches.py for why): a deployment refused before any change, from
before the patch, ends `rolled_back` although nothing was rolled back."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PatchActivationInput

from lockstep.domain.status import DeploymentStatus
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.settings import Settings
from lockstep.store.engine import Store
from tests.support.fixtures import terminate_running
from tests.support.sshd import SshFleet
from tests.workflows.helpers import deploy, record_history
from tests.workflows.test_ssh_rollback import app_repo, fleet, settings
from workers.main import build_worker
from workflows.deployment import NOTHING_TO_UNDO

pytestmark = [pytest.mark.temporal, pytest.mark.store]
__all__ = ["app_repo", "fleet", "settings"]  # the ssh fleet's fixtures these tests use


def _before_nothing_to_undo(asked: PatchActivationInput) -> bool:
    return asked.patch_id != NOTHING_TO_UNDO


async def test_before_nothing_to_undo_a_refused_deployment_ends_rolled_back(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    store: Store,
    git: GitMirrors,
    fleet: SshFleet,
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    targets = dict(settings.targets) | {"ssh-test": fleet.target(known_hosts=str(empty))}
    refusing = settings.model_copy(update={"targets": targets})
    try:
        async with build_worker(
            temporal_env.client, refusing, patch_activation_callback=_before_nothing_to_undo
        ):
            view = await deploy(temporal_env, refusing, store, git)
            await record_history(
                temporal_env.client.get_workflow_handle(view.id), "deployment-refused-rolled-back"
            )
    finally:
        await terminate_running(temporal_env, refusing.temporal.task_queue)
    assert view.status == DeploymentStatus.ROLLED_BACK, view.error
    assert view.error is not None and "host key unknown" in view.error
    for host in fleet.hosts:
        assert fleet.sh(host.index, f"ls {fleet.root}") == "", "nothing changed on any host"
