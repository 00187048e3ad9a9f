"""The embedded policy engine: the bundle folder evaluated in-process by regopy (rego-cpp).

The bundle is compiled once per revision, for the rules the decisions read (`deny`, `warn`,
`approvals_required`; `remediate`, `reasons`), and reused; a cheap (path, size, mtime)
fingerprint is checked at most every `recheck_seconds` (1 s) so an edited bundle is picked up
without a restart, and only then re-hashed and, if its revision changed, recompiled.
`*_test.rego` modules are part of the revision but not of the compiled policy: tests never
decide (they run through `lockstep.policy.testing`).

One lock serialises compilation and queries: rego-cpp documents no thread-safety, ctypes releases
the GIL during the call, and an evaluation takes a millisecond or two, so activities calling
from worker threads wait little. There is no timeout: the C call cannot be interrupted, and it
does no I/O. Failures never raise out of `evaluate_*`: they close (see decision.py).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regopy import Bundle, Interpreter

from lockstep.domain.policy import DriftDecision, PolicyDecision
from lockstep.policy import rego
from lockstep.policy.bundle import PolicyBundleError, fingerprint, load_bundle
from lockstep.policy.decision import DEPLOY, DRIFT, DecisionT, PolicyFailure, Rule, fail_closed
from lockstep.policy.input import canonical_json

# The rules each decision reads. Querying them one by one (not the whole package document) keeps
# helper rules out of the result and makes evaluation cheaper.
RULES = {
    "lockstep/deploy": ("deny", "warn", "approvals_required"),
    "lockstep/drift": ("remediate", "ignore", "reasons"),
}
ENTRYPOINTS = tuple(f"{package}/{rule}" for package, rules in RULES.items() for rule in rules)


@dataclass
class _Compiled:
    revision: str
    builder: Interpreter  # kept alive with the bundle it built
    bundle: Bundle
    runner: Interpreter


class EmbeddedPolicyEngine:
    """Evaluates `data.lockstep.deploy` and `data.lockstep.drift` with regopy, failing closed."""

    name = "embedded"

    def __init__(self, path: str | Path, *, recheck_seconds: float = 1.0) -> None:
        self.path = Path(path)
        self.recheck_seconds = recheck_seconds
        self._checked_at = -math.inf
        self.label = f"policy engine embedded ({self.path})"
        self._lock = threading.Lock()
        self._fingerprint: object = None
        self._revision = "unknown"
        self._compiled: _Compiled | None = None
        self._error: str | None = None  # why the bundle at this fingerprint cannot be used

    @property
    def revision(self) -> str:
        with self._lock:
            self._refresh()
            return self._revision

    def evaluate_deploy(self, input: Mapping[str, Any]) -> PolicyDecision:
        return self._decide(DEPLOY, input)

    def evaluate_drift(self, input: Mapping[str, Any]) -> DriftDecision:
        return self._decide(DRIFT, input)

    def _decide(self, rule: Rule[DecisionT], input: Mapping[str, Any]) -> DecisionT:
        text, sha = _encode(input)
        return fail_closed(
            rule,
            lambda: self._evaluate(f"lockstep/{rule.package}", text, input),
            label=self.label,
            engine=self.name,
            input_sha256=sha,
            revision_if_failed=lambda: self._revision,
        )

    def _evaluate(self, entrypoint: str, text: str | None, input: Mapping[str, Any]) -> tuple[Any, str]:
        if text is None:  # the canonical text is what the input's hash covers: it must exist
            raise PolicyFailure("cannot encode the input as JSON")
        with self._lock:
            compiled = self._refresh()
            if compiled is None:
                raise PolicyFailure(self._error or "has no compiled bundle")
            try:
                if rego.fits_input_nodes(input):  # node by node: a third cheaper than parsing text
                    rego.set_input_value(compiled.runner, input)
                else:  # floats, huge integers: only the JSON text keeps them exact
                    compiled.runner.set_input_term(text)
            except (rego.RegoFailure, TypeError) as e:
                raise PolicyFailure(f"cannot pass the input: {e}") from None
            except Exception as e:  # a crash in the binding must still close, never open
                raise PolicyFailure(f"cannot pass the input: {e!r}") from None
            document: dict[str, Any] = {}
            for rule in RULES[entrypoint]:
                query = f"data.{entrypoint.replace('/', '.')}.{rule}"
                try:
                    value = rego.query_entrypoint(
                        compiled.runner, compiled.bundle, f"{entrypoint}/{rule}", None
                    )
                except rego.RegoFailure as e:
                    raise PolicyFailure(f"failed evaluating {query}: {e}") from None
                except Exception as e:  # a crash in the binding must still close, never open
                    raise PolicyFailure(f"failed evaluating {query}: {e!r}") from None
                if value is not rego.UNDEFINED:
                    document[rule] = value
        return (document or None), compiled.revision

    def _refresh(self) -> _Compiled | None:
        """Recompile if the folder changed since last look. Caller holds the lock."""
        now = time.monotonic()
        if self._fingerprint is not None and now - self._checked_at < self.recheck_seconds:
            return self._compiled
        self._checked_at = now
        try:
            current = fingerprint(self.path)
        except (PolicyBundleError, OSError) as e:
            self._fingerprint, self._compiled, self._revision = None, None, "unknown"
            self._error = f"cannot load the bundle: {e}"
            return None
        if current == self._fingerprint:
            return self._compiled
        self._fingerprint = current
        try:
            bundle = load_bundle(self.path)
        except PolicyBundleError as e:
            self._compiled, self._revision, self._error = None, "unknown", f"cannot load the bundle: {e}"
            return None
        self._revision = bundle.revision
        if self._compiled is not None and self._compiled.revision == bundle.revision:
            return self._compiled
        try:
            builder = rego.interpreter()
            rego.load(builder, bundle, bundle.policy_modules)
            compiled = rego.build(builder, ENTRYPOINTS, bundle.policy_modules, str(bundle.root))
        except rego.RegoFailure as e:
            self._compiled, self._error = None, f"cannot compile the bundle: {e}"
            return None
        self._compiled = _Compiled(bundle.revision, builder, compiled, rego.interpreter())
        self._error = None
        return self._compiled


def _encode(input: Mapping[str, Any]) -> tuple[str | None, str]:
    """The canonical JSON text (None if the input is not JSON) and its sha256, computed once."""
    try:
        text = canonical_json(input)
    except (TypeError, ValueError):
        return None, hashlib.sha256(repr(input).encode("utf-8")).hexdigest()
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()
