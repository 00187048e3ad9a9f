"""Fixtures of the kubernetes delivery tests: kmock's emulator on a loopback port, a target
settings object for it and a connected cluster client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lockstep.settings import KubernetesTargetSettings
from lockstep.targets.kubernetes import KubernetesCluster, connect_kubernetes
from tests.support.kube import EmulatedCluster, emulated_cluster


@pytest.fixture
def emulated() -> Iterator[EmulatedCluster]:
    with emulated_cluster() as cluster:
        yield cluster


@pytest.fixture
def target(emulated: EmulatedCluster, tmp_path: Path) -> KubernetesTargetSettings:
    kubeconfig = emulated.kubeconfig(tmp_path / "kubeconfig")
    return KubernetesTargetSettings(
        type="kubernetes",
        kubeconfig=str(kubeconfig),
        context="emulated",
        namespace="shop",
        force_conflicts=True,
    )


@pytest.fixture
def cluster(target: KubernetesTargetSettings) -> Iterator[KubernetesCluster]:
    connected = connect_kubernetes(target)
    yield connected
    connected.close()
