"""The policy engine Protocol and the factory that picks an engine from the settings.

Callers (activities, the CLI) depend on `PolicyEngine` only. Both implementations fail closed:
`evaluate_deploy` never raises and returns a denying decision when it cannot decide, and
`evaluate_drift` returns remediate=False with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from lockstep.domain.errors import ConfigError
from lockstep.domain.policy import DriftDecision, PolicyDecision
from lockstep.settings import PolicySettings


class PolicyEngine(Protocol):
    @property
    def name(self) -> str:
        """ "embedded" or "opa", recorded with every decision."""
        ...

    @property
    def revision(self) -> str:
        """The bundle revision decisions are made against ("unknown" when it cannot be known)."""
        ...

    def evaluate_deploy(self, input: Mapping[str, Any]) -> PolicyDecision: ...

    def evaluate_drift(self, input: Mapping[str, Any]) -> DriftDecision: ...


def make_policy_engine(settings: PolicySettings, *, timeout_seconds: float = 5.0) -> PolicyEngine:
    """The engine `settings` names: embedded over `path`, or the OPA server at `url`.

    Raises `ConfigError` when the OPA engine has no URL. A missing or broken bundle folder is not
    an error here: the engine denies every deployment and says why.
    """
    if settings.engine == "opa":
        from lockstep.policy.opa import OpaPolicyEngine

        if not settings.url:
            raise ConfigError("policy.engine is opa but policy.url is not set (e.g. http://127.0.0.1:8181)")
        path = Path(settings.path)
        return OpaPolicyEngine(
            settings.url, bundle_path=path if path.is_dir() else None, timeout_seconds=timeout_seconds
        )
    from lockstep.policy.embedded import EmbeddedPolicyEngine

    return EmbeddedPolicyEngine(settings.path)
