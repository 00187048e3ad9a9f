"""Which deliverer serves which component kind: the one place a new kind is registered.

Adding a kind is one module implementing `lockstep.delivery.deliverer.Deliverer` and one line
below (CONTRIBUTING.md, "Adding a component kind").
"""

from __future__ import annotations

from lockstep.delivery.deliverer import Deliverers
from lockstep.delivery.host_deliverer import HostDeliverer
from lockstep.delivery.kubernetes_deliverer import KubernetesDeliverer
from lockstep.domain.masking import Masker
from lockstep.store.engine import Store
from lockstep.targets.registry import TargetRegistry


def deliverers(*, targets: TargetRegistry, store: Store, masker: Masker | None = None) -> Deliverers:
    mask = masker or Masker(())
    return Deliverers(
        {
            "host": HostDeliverer(targets, store, mask),
            "kubernetes": KubernetesDeliverer(targets, store, mask),
        }
    )
