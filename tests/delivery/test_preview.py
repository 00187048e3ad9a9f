"""The plan preview's deadline: a host that accepts a connection but never answers (a listening
socket that sends no ssh banner) holds up no other component and no plan; it is shown as
`unreachable: timed out after N s`, and a cancelled preview stops waiting.

The hung target is a real ssh target of a real `TargetRegistry` whose own connect timeout is far
longer than the preview's deadline; the other component is on a local target and is looked at
for real.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from lockstep.delivery.kinds import deliverers
from lockstep.delivery.preview import preview_plan
from lockstep.domain.models import HealthSpec, ReleaseTree, RenderedComponent
from lockstep.planning.plan import make_plan
from lockstep.settings import LocalTargetSettings, SshTargetSettings
from lockstep.store.engine import Store
from lockstep.targets.registry import TargetRegistry


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says anything."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in [*accepted, listener]:
        conn.close()
    # The looks the preview stopped waiting for end now that the host hangs up: let them finish
    # here rather than beside the next test.
    for looking in [t for t in threading.enumerate() if t.name.startswith("lockstep-preview-")]:
        looking.join(timeout=30)


def component(name: str, target: str) -> RenderedComponent:
    return RenderedComponent(
        name=name,
        kind="host",
        target=target,
        target_name=target,
        depends_on=(),
        content_hash="1" * 64,
        health=HealthSpec(),
        releases=(ReleaseTree(dest=f"/srv/{name}", files={"index.html": b"hi\n"}),),
    )


def targets(tmp_path: Path, port: int) -> TargetRegistry:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    hung = SshTargetSettings.model_validate(
        {
            "type": "ssh",
            "hosts": [f"127.0.0.1:{port}"],
            "user": "deploy",
            "known_hosts": str(known_hosts),
            "connect_timeout": "5m",  # far past the preview's deadline
        }
    )
    return TargetRegistry(
        {"hung": hung, "site": LocalTargetSettings(type="local", root=str(tmp_path / "site"))}
    )


def test_a_host_that_never_answers_is_unreachable_once_the_deadline_passes(
    tmp_path: Path, silent_port: int
) -> None:
    comps = {c.name: c for c in (component("api", "hung"), component("web", "site"))}
    plan = make_plan(list(comps.values()), {})
    kinds = deliverers(targets=targets(tmp_path, silent_port), store=cast(Store, None))

    previews = preview_plan(kinds, plan, comps, deadline_seconds=1)

    [hung] = previews["api"]
    assert hung.unreachable == "timed out after 1 s"
    [web] = previews["web"]  # looked at beside it, for real
    assert (web.location, web.unreachable, web.summary()) == ("local", None, "1 created")


def test_a_cancelled_preview_stops_waiting(tmp_path: Path, silent_port: int) -> None:
    comps = {"api": component("api", "hung")}
    plan = make_plan(list(comps.values()), {})
    kinds = deliverers(targets=targets(tmp_path, silent_port), store=cast(Store, None))
    cancelled = threading.Event()
    threading.Timer(0.3, cancelled.set).start()

    previews = preview_plan(kinds, plan, comps, deadline_seconds=600, cancelled=cancelled)

    assert [c.unreachable for c in previews["api"]] == ["not looked at: cancelled"]
