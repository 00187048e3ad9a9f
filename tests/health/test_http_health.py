"""`health.http` checks against a real HTTP server on a loopback port, served from a thread;
alone, then wired into host delivery (real `LocalConnection`) and kubernetes delivery (emulator)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lockstep.delivery.host import DeliveryLimits, HostDelivery, deliver_host_component
from lockstep.delivery.journal import MemoryJournal
from lockstep.delivery.kubernetes import KubernetesDelivery, deliver_kubernetes_component
from lockstep.domain.errors import HealthCheckFailed
from lockstep.domain.models import HealthSpec, HttpCheck, ReleaseTree, RenderedComponent
from lockstep.domain.status import StepStatus
from lockstep.health.http import verify_http
from lockstep.settings import KubernetesTargetSettings
from lockstep.targets.kubernetes import connect_kubernetes
from lockstep.targets.local import LocalConnection
from tests.support.kube import MemoryInventory, emulated_cluster


class StatusServer:
    """Answers GET with the next of `statuses` (the last one repeats) and counts the requests."""

    def __init__(self, statuses: Sequence[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                status = server.statuses.pop(0) if len(server.statuses) > 1 else server.statuses[0]
                body = b"" if status == 204 else b"not telling\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/healthz"

    def __enter__(self) -> StatusServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[StatusServer] = []

    def start(*statuses: int) -> StatusServer:
        servers.append(StatusServer(statuses).__enter__())
        return servers[-1]

    yield start
    for s in servers:
        s.__exit__()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spec(*checks: HttpCheck, timeout: float = 1.0) -> HealthSpec:
    return HealthSpec(http=list(checks), timeout_seconds=timeout, interval_seconds=0.05)


def test_200_passes_at_once(serve: Any) -> None:
    server = serve(200)
    assert verify_http(spec(HttpCheck(url=server.url)), label="h1") == f"GET {server.url} -> 200 (1 attempt)"
    assert server.requests == ["/healthz"]


def test_503_then_200_passes_after_retries(serve: Any) -> None:
    server = serve(503, 503, 200)
    beats: list[str] = []
    report = verify_http(spec(HttpCheck(url=server.url)), label="h1", heartbeat=beats.append)
    assert report == f"GET {server.url} -> 200 (3 attempts)"
    assert len(server.requests) == 3
    assert beats == [f"GET {server.url}: attempt {n} got status 503; retrying" for n in (1, 2)]


def test_always_500_fails_naming_url_status_and_attempts(serve: Any) -> None:
    server = serve(500)
    with pytest.raises(HealthCheckFailed) as info:
        verify_http(spec(HttpCheck(url=server.url), timeout=0.3), label="h1")
    message = str(info.value)
    assert message.startswith(f"h1: http check GET {server.url} did not answer 200 within 0.3s (")
    # How many attempts fit in 0.3 s depends on the machine's load: the message counts them all.
    n = len(server.requests)
    assert n >= 1 and message.endswith(f"({n} attempt{'s' if n != 1 else ''}); last: status 500")
    assert "not telling" not in message  # bodies stay out of messages


def test_connection_refused_fails_naming_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}/healthz"
    with pytest.raises(HealthCheckFailed) as info:
        verify_http(spec(HttpCheck(url=url), timeout=0.2), label="web")
    message = str(info.value)
    assert message.startswith(f"web: http check GET {url} did not answer 200 within 0.2s")
    assert "last: connection error: ConnectError" in message


def test_expected_status_is_compared_exactly(serve: Any) -> None:
    no_content = serve(204)
    assert verify_http(spec(HttpCheck(url=no_content.url, status=204)), label="h1").endswith(
        "-> 204 (1 attempt)"
    )
    with pytest.raises(HealthCheckFailed, match=r"did not answer 200 .* last: status 204"):
        verify_http(spec(HttpCheck(url=no_content.url), timeout=0.1), label="h1")


def test_checks_run_in_order_and_user_info_is_not_shown(serve: Any) -> None:
    first, second = serve(200), serve(500)
    secret = second.url.replace("http://", "http://user:s3cret@")
    with pytest.raises(HealthCheckFailed) as info:
        verify_http(spec(HttpCheck(url=first.url), HttpCheck(url=secret), timeout=0.2), label="h1")
    assert first.requests == ["/healthz"] and second.requests
    assert "s3cret" not in str(info.value) and second.url in str(info.value)


def host_component(url: str, commands: Sequence[str] = ("test -f index.html",)) -> RenderedComponent:
    return RenderedComponent(
        name="web",
        kind="host",
        target="web",
        target_name="local-test",
        depends_on=(),
        content_hash="c" * 64,
        health=HealthSpec(
            commands=list(commands), http=[HttpCheck(url=url)], timeout_seconds=0.5, interval_seconds=0.05
        ),
        releases=(ReleaseTree(dest="/srv/web", files={"index.html": b"<h1>hi</h1>\n"}),),
    )


def host_delivery(comp: RenderedComponent, journal: MemoryJournal) -> HostDelivery:
    return HostDelivery(
        component=comp, release="a" * 40, env={}, journal=journal, limits=DeliveryLimits(command_timeout=5)
    )


def test_host_delivery_checks_http_once_per_host_after_its_commands(serve: Any, tmp_path: Path) -> None:
    server = serve(200)
    hosts = []
    for name in ("h1", "h2"):
        (tmp_path / name).mkdir()
        hosts.append(LocalConnection(root=tmp_path / name, name=name))
    journal = MemoryJournal()
    done = deliver_host_component(host_delivery(host_component(server.url), journal), hosts, 1)
    assert [c.location for c in done] == [
        "h1",
        "h2",
    ]
    assert len(server.requests) == 2
    for name in ("h1", "h2"):
        status, output = journal.steps_by_key[(name, "health")]
        assert status == StepStatus.SUCCEEDED and f"GET {server.url} -> 200" in (output or "")


def test_host_http_checks_wait_for_the_commands_and_failures_are_recorded(serve: Any, tmp_path: Path) -> None:
    server = serve(500)
    conn = LocalConnection(root=tmp_path, name="h1")
    journal = MemoryJournal()
    with pytest.raises(HealthCheckFailed, match="command 'false'"):
        deliver_host_component(host_delivery(host_component(server.url, ["false"]), journal), [conn], 1)
    assert server.requests == []  # commands failed: no http check was made
    with pytest.raises(
        HealthCheckFailed, match=rf"h1: http check GET {re.escape(server.url)} .* last: status 500"
    ):
        deliver_host_component(host_delivery(host_component(server.url), journal), [conn], 1)
    status, output = journal.steps_by_key[("h1", "health")]
    assert status == StepStatus.FAILED and server.url in (output or "")


@pytest.mark.parametrize(("answer", "passes"), [(200, True), (500, False)])
def test_kubernetes_delivery_checks_http_after_the_objects(
    serve: Any, tmp_path: Path, answer: int, passes: bool
) -> None:
    server = serve(answer)
    config_map: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web"},
        "data": {"a": "b"},
    }
    comp = RenderedComponent(
        name="shop",
        kind="kubernetes",
        target="cluster",
        target_name="k8s",
        depends_on=(),
        content_hash="x",
        health=HealthSpec(http=[HttpCheck(url=server.url)], timeout_seconds=0.3, interval_seconds=0.05),
        objects=(config_map,),
    )
    with emulated_cluster() as emulated:
        target = KubernetesTargetSettings(
            type="kubernetes",
            kubeconfig=str(emulated.kubeconfig(tmp_path / "kubeconfig")),
            context="emulated",
            namespace="shop",
        )
        cluster = connect_kubernetes(target)
        journal = MemoryInventory()
        try:
            delivery = KubernetesDelivery(comp, cluster, journal)
            if passes:
                deliver_kubernetes_component(delivery)
            else:
                with pytest.raises(HealthCheckFailed, match=f"shop: http check GET {re.escape(server.url)}"):
                    deliver_kubernetes_component(delivery)
        finally:
            cluster.close()
    assert journal.steps["health"][0] == ("succeeded" if passes else "failed")
    assert server.requests
