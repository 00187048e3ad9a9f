"""A small OPA Data-API-compatible HTTP server for testing the OPA adapter.

No OPA binary can be installed on the build machines, so the adapter is tested against this: a
real HTTP server on a loopback port that answers `POST /v1/data/<package path>` with
`{"result": <document>}` (or `{}` when the document is undefined), evaluating the bundle with the
embedded regopy engine. `mode` makes it misbehave the ways a real server can: HTTP 500, too slow,
an answer without `result`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from lockstep.policy import rego
from lockstep.policy.bundle import load_bundle

Mode = Literal["ok", "error", "slow", "empty"]
PACKAGES = ("lockstep/deploy", "lockstep/drift")


class DataApiServer:
    def __init__(self, bundle: Path) -> None:
        loaded = load_bundle(bundle)
        builder = rego.interpreter()
        rego.load(builder, loaded, loaded.policy_modules)
        self._builder = builder
        self._compiled = rego.build(builder, PACKAGES, loaded.policy_modules, str(bundle))
        self._runner = rego.interpreter()
        self._lock = threading.Lock()
        self.mode: Mode = "ok"
        self.delay_seconds = 2.0
        self.requests: list[tuple[str, Any]] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> DataApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def evaluate(self, package: str, input: Any) -> Any:
        with self._lock:
            value = rego.query_entrypoint(self._runner, self._compiled, package, json.dumps(input))
        return None if value is rego.UNDEFINED else value

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                package = self.path.removeprefix("/v1/data/").split("?")[0].strip("/")
                server.requests.append((self.path, body))
                if server.mode == "slow":
                    time.sleep(server.delay_seconds)
                if server.mode == "error":
                    self._send(500, {"code": "internal_error", "message": "storage unavailable"})
                    return
                if server.mode == "empty" or package not in PACKAGES:
                    self._send(200, {})
                    return
                result = server.evaluate(package, body.get("input"))
                self._send(200, {} if result is None else {"result": result})

        return Handler
