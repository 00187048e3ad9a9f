"""`TargetRegistry.connect_each` against real sshd hosts: every host is tried on its own, so one
that is down, hung or refused leaves the others connected, and only the hosts asked for are tried.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lockstep.domain.errors import ConfigError, TargetUnreachable
from lockstep.settings import LocalTargetSettings
from lockstep.targets.host import HostReach
from lockstep.targets.registry import TargetRegistry, ssh_label
from lockstep.targets.ssh import HostKeyRejected, connect_host
from tests.support.sshd import SshFleet, running_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFleet]:
    with running_fleet(tmp_path_factory.mktemp("fleet"), 3) as f:
        yield f


def _close(reaches: list[HostReach]) -> None:
    for r in reaches:
        if r.connection is not None:
            r.connection.close()


def _outcome(reaches: list[HostReach]) -> list[tuple[str, str]]:
    return [(r.name, "connected" if r.connection is not None else type(r.error).__name__) for r in reaches]


def test_labels_are_the_names_connections_carry(fleet: SshFleet) -> None:
    target = fleet.target(hosts=[f"127.0.0.1:{fleet.hosts[0].port}"])
    conn = connect_host(target, target.hosts[0])
    try:
        assert ssh_label(target, target.hosts[0]) == conn.name == fleet.hosts[0].address
    finally:
        conn.close()
    assert ssh_label(fleet.target(port=2222), "10.0.0.5") == "10.0.0.5:2222"
    assert ssh_label(fleet.target(), "[fd00::7]:22") == "[fd00::7]:22"


def test_a_host_that_is_down_leaves_the_others_connected(fleet: SshFleet) -> None:
    h1, _, h3 = (h.address for h in fleet.hosts)
    registry = TargetRegistry({"vms": fleet.target(hosts=[h1, "127.0.0.1:1", h3])})
    reaches = registry.connect_each("vms")
    try:
        assert _outcome(reaches) == [
            (h1, "connected"),
            ("127.0.0.1:1", "TargetUnreachable"),
            (h3, "connected"),
        ]
        down = reaches[1].error
        assert isinstance(down, TargetUnreachable) and "127.0.0.1:1: cannot connect" in str(down)
        conn = reaches[2].connection
        assert conn is not None
        assert conn.run("echo ok", cwd=None, env={}, timeout=10, max_output=64).output == "ok\n"
    finally:
        _close(reaches)


def test_only_the_hosts_asked_for_are_tried(fleet: SshFleet) -> None:
    h1, _, h3 = (h.address for h in fleet.hosts)
    registry = TargetRegistry({"vms": fleet.target(hosts=[h1, "127.0.0.1:1", h3])})
    reaches = registry.connect_each("vms", [h3, "10.9.9.9:22"])
    try:
        # 127.0.0.1:1 is not asked for, so never tried; a label the target no longer lists
        # comes back as a configuration problem rather than a connection attempt.
        assert _outcome(reaches) == [(h3, "connected"), ("10.9.9.9:22", "ConfigError")]
        assert isinstance(reaches[1].error, ConfigError)
        assert "no longer a host of target 'vms'" in str(reaches[1].error)
        assert registry.connect_each("vms", []) == []
    finally:
        _close(reaches)


def test_a_refused_host_key_is_that_host_s_error_alone(fleet: SshFleet, tmp_path: Path) -> None:
    h1, h2, _ = fleet.hosts
    known = tmp_path / "known_hosts"
    entries = fleet.known_hosts.read_text().splitlines(keepends=True)
    known.write_text("".join(e for e in entries if not e.startswith(f"[127.0.0.1]:{h2.port} ")))
    registry = TargetRegistry({"vms": fleet.target(hosts=[h1.address, h2.address], known_hosts=str(known))})
    reaches = registry.connect_each("vms")
    try:
        assert _outcome(reaches) == [(h1.address, "connected"), (h2.address, "HostKeyRejected")]
        assert isinstance(reaches[1].error, HostKeyRejected) and "host key unknown" in str(reaches[1].error)
    finally:
        _close(reaches)


def test_a_hung_host_costs_its_connect_timeout_not_the_others(tmp_path: Path) -> None:
    with running_fleet(tmp_path / "own", 2) as own:
        own.pause(0)
        try:
            registry = TargetRegistry({"vms": own.target(connect_timeout="1s")})
            reaches = registry.connect_each("vms")
            try:
                assert _outcome(reaches) == [
                    (own.hosts[0].address, "TargetUnreachable"),
                    (own.hosts[1].address, "connected"),
                ]
                assert own.hosts[0].address in str(reaches[0].error)
            finally:
                _close(reaches)
        finally:
            own.resume(0)


def test_the_local_target_is_one_host_named_local(tmp_path: Path) -> None:
    registry = TargetRegistry({"site": LocalTargetSettings(type="local", root=str(tmp_path / "site"))})
    reaches = registry.connect_each("site")
    assert _outcome(reaches) == [("local", "connected")]
    assert registry.connect_each("site", []) == []
    assert _outcome(registry.connect_each("site", ["local", "gone"])) == [
        ("local", "connected"),
        ("gone", "ConfigError"),
    ]
    (tmp_path / "file").write_text("not a folder")
    blocked = TargetRegistry({"site": LocalTargetSettings(type="local", root=str(tmp_path / "file/site"))})
    assert _outcome(blocked.connect_each("site")) == [("local", "TargetUnreachable")]
