"""Components of one drift sweep read their objects from one LIST per (kind, namespace)
(`lockstep.delivery.kube_listings`), through the kubernetes deliverer, against kmock's emulator:
the same answers as a GET per object, with a round trip per kind instead of per object."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from lockstep.delivery.deliverer import Deliverer
from lockstep.delivery.kinds import deliverers
from lockstep.delivery.kube_owner import marked
from lockstep.domain.models import HealthSpec, RenderedComponent
from lockstep.settings import KubernetesTargetSettings
from lockstep.store.engine import Store
from lockstep.targets.kubernetes import KubernetesCluster
from lockstep.targets.registry import TargetRegistry
from tests.support.kube import EmulatedCluster


def config_map(name: str, value: str = "1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": value}}


def component(name: str, *objects: dict[str, Any]) -> RenderedComponent:
    return RenderedComponent(
        name=name,
        kind="kubernetes",
        target="cluster",
        target_name="k8s",
        depends_on=(),
        content_hash="x",
        health=HealthSpec(),
        objects=tuple(copy.deepcopy(o) for o in objects),
        application="shop",
        environment="staging",
    )


CONFIG = component("config", config_map("a"), config_map("b"))
FLAGS = component("flags", config_map("c"), config_map("unlabelled"), config_map("absent"))


@pytest.fixture
def deliverer(target: KubernetesTargetSettings, cluster: KubernetesCluster, tmp_path: Path) -> Deliverer:
    """The deliverer, with the components applied (as deployments leave them: marked), except
    `unlabelled` (applied before Lockstep marked its objects) and `absent`."""
    for part in (CONFIG, FLAGS):
        for obj in part.objects:
            name = cast(dict[str, Any], obj)["metadata"]["name"]
            if name == "unlabelled":
                cluster.apply(copy.deepcopy(obj))  # type: ignore[arg-type]
            elif name != "absent":
                cluster.apply(marked(obj, f"shop/staging/{part.name}"))
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    return deliverers(targets=TargetRegistry({"k8s": target}), store=store).for_kind("kubernetes")


def summaries(deliverer: Deliverer, part: RenderedComponent, since: datetime | None) -> dict[str, str]:
    [change_set] = deliverer.diff(part, deliverer.observe(part, since=since))
    return {c.subject: f"{c.action.value} {c.summary}".strip() for c in change_set.changes}


def gets_and_lists(emulated: EmulatedCluster, since: int) -> tuple[list[str], list[str | None]]:
    """Objects read with a GET, and the LISTs' label selectors, of the requests after the first `since`."""
    requests = [r for r in list(emulated.emulator)[since:] if r.method == "GET" and r.resource is not None]
    selectors = [r.params.get("labelSelector") for r in requests if not r.name]
    return [str(r.name) for r in requests if r.name], selectors


def test_components_of_a_sweep_share_one_listing_and_answer_as_gets_do(
    emulated: EmulatedCluster, deliverer: Deliverer
) -> None:
    emulated.call(lambda: emulated.emulator.objects["v1/configmaps", "shop", "b"].patch({"data": {"a": "2"}}))
    one_by_one = {**summaries(deliverer, CONFIG, None), **summaries(deliverer, FLAGS, None)}
    before = len(list(emulated.emulator))
    since = datetime.now(UTC)
    listed = {**summaries(deliverer, CONFIG, since), **summaries(deliverer, FLAGS, since)}

    assert (
        listed
        == one_by_one
        == {
            "ConfigMap/shop/a": "unchanged",
            "ConfigMap/shop/b": "configured data.a",
            "ConfigMap/shop/c": "unchanged",
            "ConfigMap/shop/unlabelled": "configured metadata.labels, metadata.annotations",
            "ConfigMap/shop/absent": "created",
        }
    )
    gets, lists = gets_and_lists(emulated, before)
    assert lists == ["app.kubernetes.io/managed-by=lockstep"]
    assert sorted(gets) == ["absent", "unlabelled"]  # not in the listing: read one by one


def test_a_listing_older_than_since_is_asked_again(emulated: EmulatedCluster, deliverer: Deliverer) -> None:
    first = datetime.now(UTC)
    assert summaries(deliverer, CONFIG, first)["ConfigMap/shop/a"] == "unchanged"
    emulated.call(lambda: emulated.emulator.objects["v1/configmaps", "shop", "a"].patch({"data": {"a": "9"}}))
    assert summaries(deliverer, CONFIG, first)["ConfigMap/shop/a"] == "unchanged"  # as listed then
    later = datetime.now(UTC) + timedelta(microseconds=1)
    assert summaries(deliverer, CONFIG, later)["ConfigMap/shop/a"] == "configured data.a"


def test_credentials_that_may_not_list_read_each_object(
    emulated: EmulatedCluster, deliverer: Deliverer
) -> None:
    emulated.emulator.listing = False
    before = len(list(emulated.emulator))
    found = summaries(deliverer, FLAGS, datetime.now(UTC))
    assert found["ConfigMap/shop/c"] == "unchanged" and found["ConfigMap/shop/absent"] == "created"
    gets, _lists = gets_and_lists(emulated, before)
    assert sorted(gets) == ["absent", "c", "unlabelled"]
