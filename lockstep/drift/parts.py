"""What a drift sweep works with, built from the server configuration: the commit renderer
(configured repositories only, as the worker renders), the deliverers and the policy engine.

For the callers that compose a sweep (the worker's activity, tests); it deliberately holds no
state of its own and starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from lockstep.delivery.deliverer import Deliverers
from lockstep.delivery.kinds import deliverers
from lockstep.delivery.rendering import CommitRenderer
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.policy.engine import PolicyEngine, make_policy_engine
from lockstep.security.known_secrets import masker_for
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.targets.registry import TargetRegistry


@dataclass(frozen=True)
class SweepParts:
    renderer: CommitRenderer
    deliverers: Deliverers
    policy: PolicyEngine


def sweep_parts(settings: Settings, store: Store, git: GitMirrors | None = None) -> SweepParts:
    """The renderer, deliverers and policy engine a sweep needs, as the worker builds them."""
    targets = TargetRegistry(settings.targets)
    renderer = CommitRenderer(
        git or GitMirrors(settings.mirrors_dir),
        targets.types(),
        target_namespaces=targets.namespaces(),
        repositories=[r.url for r in settings.repositories],
        configured_only=True,
    )
    return SweepParts(
        renderer=renderer,
        deliverers=deliverers(targets=targets, store=store, masker=masker_for(settings)),
        policy=make_policy_engine(settings.policy),
    )
