"""Which Kubernetes objects are Lockstep's: the marks it puts on every object it applies, and
reading them back.

Every object Lockstep applies (the real apply and the dry run a preview asks for) carries the
label `app.kubernetes.io/managed-by: lockstep` and the annotation
`lockstep.io/owner: <application>/<environment>/<component>`. They are added to a copy of the
object where it is sent, never in the rendered manifest, so a component's content hash does not
change. The manifest's own labels and annotations are kept; where it sets these two keys itself,
Lockstep's value wins. Pruning deletes only an object whose owner annotation names exactly the
component being delivered (`lockstep.delivery.kube_prune`).

Pure: no client, no I/O. Deliberately does not decide what to prune.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, cast

from lockstep.domain.kube_objects import KubeObject
from lockstep.domain.models import RenderedComponent

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "lockstep"
OWNER_ANNOTATION = "lockstep.io/owner"


def owner_of(component: RenderedComponent) -> str:
    """`<application>/<environment>/<component>`: the owner annotation's value for `component`."""
    return f"{component.application}/{component.environment}/{component.name}"


def marked(obj: Mapping[str, object], owner: str) -> KubeObject:
    """A copy of `obj` carrying Lockstep's label and owner annotation (its own kept; ours win)."""
    body = cast(dict[str, Any], copy.deepcopy(obj))
    meta = body.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY_LABEL: MANAGED_BY}
    meta["annotations"] = {**(meta.get("annotations") or {}), OWNER_ANNOTATION: owner}
    return cast(KubeObject, body)


def owner_on(live: KubeObject | dict[str, Any]) -> str | None:
    """The owner annotation a live object carries (None: none, not applied by this Lockstep)."""
    meta = cast(dict[str, Any], live).get("metadata") or {}
    value = (meta.get("annotations") or {}).get(OWNER_ANNOTATION)
    return value if isinstance(value, str) else None
