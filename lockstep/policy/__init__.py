"""Policy evaluation (policies/README.md): one Protocol, an embedded Rego engine and an OPA-server engine.

`make_policy_engine(settings.policy)` is the entry point; `deploy_input` builds what the policy
sees. Decisions are `lockstep.domain.policy` models.
"""

from lockstep.policy.engine import PolicyEngine, make_policy_engine
from lockstep.policy.input import deploy_input, input_sha256

__all__ = ["PolicyEngine", "deploy_input", "input_sha256", "make_policy_engine"]
