"""A cluster's Lockstep objects as one LIST read them, shared by the components a drift sweep
compares.

Reading each object with a GET costs a round trip per object. `ClusterListings` keeps, per
(target, apiVersion, kind, namespace), what a LIST with the label selector
`app.kubernetes.io/managed-by=lockstep` (every object Lockstep applies carries it:
`lockstep.delivery.kube_owner`) answered, and when it was asked. A component that may be compared
with the cluster as it was at any moment since `since` (a sweep: since the sweep began and since
the last deployment of its environment changed anything) reads its objects from a listing asked
at or after `since`, or lists anew, one LIST at a time per key (others wait and share it). So one
sweep lists each (kind, namespace) of a cluster once, and no listing predates what Lockstep
itself last did to the objects it is compared for.

The same listings say which objects carry a component's owner mark (`lockstep.io/owner`) in the
kinds and namespaces of its own objects (`claimed`): the sweep reports those its revisions never
applied as `unexpected`.

An object a listing does not have is read with a GET: it may be absent, or present without the
label (applied before Lockstep marked its objects, or its label removed by hand). So is every
object of a kind the credentials may not list (403, 405): the refusal is remembered like an
answer. Listings older than MAX_AGE are dropped when another is asked for.

Deliberately does not: compare, or decide what is drift (`lockstep.delivery.kubernetes_live`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from lockstep.delivery.kube_owner import MANAGED_BY, MANAGED_BY_LABEL, owner_on
from lockstep.domain.kube_objects import KubeObject, ObjectRef
from lockstep.targets.kubernetes import KubernetesApiError, KubernetesCluster

MAX_AGE = timedelta(minutes=15)
SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
_REFUSED = frozenset({403, 405})  # the credentials may not list: read one by one instead

ListingKey = tuple[str, str, str, str]  # target name, apiVersion, kind, namespace ("" cluster-scoped)
LiveRead = Callable[[KubernetesCluster, ObjectRef], KubeObject | None]
# The objects a component's owner mark names in the listings of its own objects' kinds and namespaces.
Unclaimed = Callable[[KubernetesCluster, Sequence[ObjectRef], str], list[tuple[ObjectRef, KubeObject]]]


@dataclass(frozen=True)
class Listing:
    """What one LIST answered; `objects` by name, None when the cluster refused to list."""

    taken: datetime  # when it was asked: the objects are as they were at some moment since
    objects: Mapping[str, KubeObject] | None
    owned: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # owner mark -> names


def _now() -> datetime:
    return datetime.now(UTC)


class ClusterListings:
    """Listings shared by the components of a sweep (module docstring); safe across threads."""

    def __init__(self, *, clock: Callable[[], datetime] = _now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._listings: dict[ListingKey, Listing] = {}
        self._asking: dict[ListingKey, threading.Lock] = {}

    def reader(self, target_name: str, since: datetime) -> LiveRead:
        """How a component on `target_name` reads a live object: from a listing asked at or
        after `since`, else with a GET (None: not on the cluster)."""

        since = self._not_after_now(since)

        def live(cluster: KubernetesCluster, ref: ObjectRef) -> KubeObject | None:
            key = (target_name, ref.api_version, ref.kind, ref.namespace)
            listed = self.listing(cluster, key, since).objects
            if listed is not None and ref.name in listed:
                return copy.deepcopy(listed[ref.name])  # the listing is shared: never handed out
            return cluster.get(ref)

        return live

    def claimed(self, target_name: str, since: datetime) -> Unclaimed:
        """How a component on `target_name` finds the objects its owner mark names in the
        (kind, namespace) listings of its own objects' refs, asked at or after `since`."""

        since = self._not_after_now(since)

        def find(
            cluster: KubernetesCluster, refs: Sequence[ObjectRef], owner: str
        ) -> list[tuple[ObjectRef, KubeObject]]:
            found = []
            for api_version, kind, namespace in sorted({(r.api_version, r.kind, r.namespace) for r in refs}):
                listing = self.listing(cluster, (target_name, api_version, kind, namespace), since)
                objects = listing.objects or {}
                for name in listing.owned.get(owner, ()):
                    found.append(
                        (ObjectRef(api_version, kind, namespace, name), copy.deepcopy(objects[name]))
                    )
            return found

        return find

    def _not_after_now(self, since: datetime) -> datetime:
        """`since` as this worker's clock allows: a moment another clock (the Temporal server's, a
        deploying worker's) puts ahead of it is now, so a listing asked now always serves, and
        old listings are dropped while readers are made (not only when one lists)."""
        with self._lock:
            self._forget_old()
        return min(since, self._clock())

    def listing(self, cluster: KubernetesCluster, key: ListingKey, since: datetime) -> Listing:
        """A listing of `key` asked at or after `since`: the one kept, or a new one."""
        with self._lock:
            self._forget_old()
            asking = self._asking.setdefault(key, threading.Lock())
        with asking:  # one LIST per key at a time; who waited uses its answer
            with self._lock:
                kept = self._listings.get(key)
            if kept is not None and kept.taken >= since:
                return kept
            listing = self._list(cluster, key)
            with self._lock:
                self._listings[key] = listing
            return listing

    def _list(self, cluster: KubernetesCluster, key: ListingKey) -> Listing:
        _target, api_version, kind, namespace = key
        taken = self._clock()  # before asking: the answer is at least this fresh
        try:
            found = cluster.list_objects(api_version, kind, namespace, label_selector=SELECTOR)
        except KubernetesApiError as err:
            if err.status not in _REFUSED:
                raise
            return Listing(taken, None)
        for obj in found:  # kept for a sweep: not the managers' bookkeeping, which can be large
            cast(dict[str, Any], obj.get("metadata", {})).pop("managedFields", None)
        objects = {str(obj.get("metadata", {}).get("name", "")): obj for obj in found}
        owned: dict[str, list[str]] = {}
        for name, obj in objects.items():
            owned.setdefault(owner_on(obj) or "", []).append(name)
        return Listing(taken, objects, {k: tuple(sorted(v)) for k, v in owned.items()})

    def _forget_old(self) -> None:
        oldest = self._clock() - MAX_AGE
        for key in [k for k, listing in self._listings.items() if listing.taken < oldest]:
            del self._listings[key]
            self._asking.pop(key, None)
