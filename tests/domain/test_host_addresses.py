"""ssh `hosts` entries: how they read, how hosts are named, and what the settings refuse."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lockstep.domain.errors import ConfigError
from lockstep.domain.host_addresses import check_hosts, host_label, parse_address
from lockstep.settings import SshTargetSettings


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.0.0.5", ("10.0.0.5", 22)),
        ("10.0.0.6:2222", ("10.0.0.6", 2222)),
        ("[::1]:2200", ("::1", 2200)),
        ("[::1]", ("::1", 22)),
        ("::1", ("::1", 22)),
        (" web-1 ", ("web-1", 22)),
    ],
)
def test_addresses(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address, 22) == expected


@pytest.mark.parametrize(
    "bad", ["host:", "[::1]:", "host:0", "host:65536", "host:x", ":22", "[::1", "[::1]x", ""]
)
def test_bad_addresses_are_refused_naming_the_entry(bad: str) -> None:
    with pytest.raises(ConfigError, match="ssh host"):
        parse_address(bad, 22)


def test_labels_bracket_ipv6() -> None:
    assert host_label("::1", 43787) == "[::1]:43787"
    assert host_label("web-1", 22) == "web-1:22"


def test_two_spellings_of_one_host_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"'10.0.0.5' and '10.0.0.5:22' are the same host \(10.0.0.5:22\)"):
        check_hosts(["10.0.0.5", "10.0.0.5:22"], 22)
    check_hosts(["10.0.0.5", "10.0.0.5:2222"], 22)  # another port is another sshd


def test_the_server_configuration_refuses_them_when_it_loads() -> None:
    base = {"type": "ssh", "user": "deploy"}
    with pytest.raises(ValidationError, match="the port must be a number"):
        SshTargetSettings.model_validate(base | {"hosts": ["web-1:"]})
    with pytest.raises(ValidationError, match="are the same host"):
        SshTargetSettings.model_validate(base | {"hosts": ["web-1", "web-1:22"]})
    with pytest.raises(ValidationError, match="are the same host"):
        SshTargetSettings.model_validate(base | {"hosts": ["web-1:2200", "web-1"], "port": 2200})
