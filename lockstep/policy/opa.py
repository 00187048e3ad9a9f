"""The OPA-server policy engine: the Data API through `opa-python-client`, failing closed.

Each evaluation is one `POST /v1/data/lockstep/deploy` (or `/drift`) with `{"input": …}` and the
answer's `result` is validated like the embedded engine's (decision.py). The client's retries are
off so `timeout_seconds` bounds the whole call; an unreachable server, a timeout, an HTTP error,
an answer without `result` (undefined) or a malformed one denies, naming the server and the cause.

Revision: OPA is expected to serve the same folder as `settings.policy.path` (docker-compose.yml
mounts ./policies into the server), so when that folder exists its local revision is recorded;
otherwise "unknown". Lockstep does not ask the server: `opa run` over a plain folder reports no
bundle revision, and a second request per decision would add a failure mode for no audit value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opa_client import OpaClient
from requests import exceptions as http

from lockstep.domain.errors import ConfigError
from lockstep.domain.policy import DriftDecision, PolicyDecision
from lockstep.policy.bundle import PolicyBundleError, bundle_revision, fingerprint
from lockstep.policy.decision import DEPLOY, DRIFT, DecisionT, PolicyFailure, Rule, fail_closed
from lockstep.policy.input import input_sha256


def _client(url: str, timeout_seconds: float) -> OpaClient:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"policy.url {url!r} is not an http(s) URL such as http://127.0.0.1:8181")
    https = parts.scheme == "https"
    prefix = parts.path.strip("/")
    return OpaClient(
        host=parts.hostname,
        port=parts.port or (443 if https else 80),
        version=f"{prefix}/v1" if prefix else "v1",
        ssl=https,
        retries=0,
        timeout=timeout_seconds,
    )


class OpaPolicyEngine:
    """Evaluates the policy on an OPA server over its Data API."""

    name = "opa"

    def __init__(
        self, url: str, *, bundle_path: str | Path | None = None, timeout_seconds: float = 5.0
    ) -> None:
        self.url = url.rstrip("/")
        self.label = f"policy engine opa at {self.url}"
        self.timeout_seconds = timeout_seconds
        self._client = _client(self.url, timeout_seconds)
        self._bundle_path = Path(bundle_path) if bundle_path is not None else None
        self._lock = threading.Lock()
        self._fingerprint: object = None
        self._revision = "unknown"

    @property
    def revision(self) -> str:
        """The local bundle's revision (the folder OPA serves), or "unknown" without one."""
        if self._bundle_path is None:
            return "unknown"
        with self._lock:
            try:
                current = fingerprint(self._bundle_path)
                if current != self._fingerprint:
                    self._revision, self._fingerprint = bundle_revision(self._bundle_path), current
            except (PolicyBundleError, OSError):
                self._revision, self._fingerprint = "unknown", None
            return self._revision

    def evaluate_deploy(self, input: Mapping[str, Any]) -> PolicyDecision:
        return self._decide(DEPLOY, input)

    def evaluate_drift(self, input: Mapping[str, Any]) -> DriftDecision:
        return self._decide(DRIFT, input)

    def _decide(self, rule: Rule[DecisionT], input: Mapping[str, Any]) -> DecisionT:
        revision = self.revision
        return fail_closed(
            rule,
            lambda: (self._query(f"lockstep.{rule.package}", input), revision),
            label=self.label,
            engine=self.name,
            input_sha256=input_sha256(input),
            revision_if_failed=lambda: revision,
        )

    def _query(self, package: str, input: Mapping[str, Any]) -> Any:
        """The `result` of `POST /v1/data/<package>`, None when OPA answers without one."""
        try:
            answer = self._client.query_rule(input_data=dict(input), package_path=package)
        except http.Timeout:
            raise PolicyFailure(f"timed out after {self.timeout_seconds:g}s") from None
        except http.ConnectionError as e:
            raise PolicyFailure(f"unreachable: {_root_cause(e)}") from None
        except http.HTTPError as e:
            raise PolicyFailure(f"answered {_http_status(e)}") from None
        except ValueError as e:  # the body was not JSON (requests' JSONDecodeError is one)
            raise PolicyFailure(f"answered with a body that is not JSON: {e}") from None
        except Exception as e:  # whatever the client raises, close rather than open
            raise PolicyFailure(f"failed: {e!r}") from None
        if not isinstance(answer, dict):
            raise PolicyFailure(f"answered with a body that is not a JSON object: {answer!r:.200}")
        return answer.get("result")


def _root_cause(error: BaseException) -> str:
    while error.__context__ is not None or error.__cause__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    text = str(error)
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text


def _http_status(error: Any) -> str:
    response = getattr(error, "response", None)
    if response is None:
        return str(error)
    body = " ".join(str(getattr(response, "text", "")).split())[:300]
    return f"HTTP {response.status_code}" + (f": {body}" if body else "")
