"""Configuration errors of an ssh target against real sshd hosts (tests/support/sshd.py): what
known_hosts may hold (revoked keys, certificate authorities, hashed names, a malformed line),
an unusable key_file, and how hosts are named (IPv6 in brackets). Each is permanent: no retry
can fix a file."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.errors import to_application_error
from lockstep.domain.errors import ConfigError, LockstepError, TargetUnreachable
from lockstep.targets.registry import TargetRegistry
from lockstep.targets.ssh import HostKeyRejected, connect_host, connect_ssh, host_label, parse_address
from tests.support.sshd import SshFleet, running_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFleet]:
    with running_fleet(tmp_path_factory.mktemp("fleet"), 2) as f:
        yield f


def _host_key(fleet: SshFleet, index: int) -> str:
    """`type base64` of host `index`'s key."""
    kind, blob = Path(f"{fleet.hosts[index].host_key}.pub").read_text().split()[:2]
    return f"{kind} {blob}"


def _fingerprint(public_key_file: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(public_key_file)], capture_output=True, text=True)
    return out.stdout.split()[1]  # SHA256:...


def _known_hosts(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(text)
    return path


def _refused(fleet: SshFleet, index: int = 0, **overrides: object) -> LockstepError:
    """The permanent error connecting to host `index` with the target's settings overridden."""
    with pytest.raises(LockstepError) as caught:
        connect_host(fleet.target(**overrides), fleet.hosts[index].address).close()
    assert not caught.value.retryable, caught.value
    assert to_application_error(caught.value).non_retryable  # the activity will not be retried
    return caught.value


def _connects(fleet: SshFleet, index: int = 0, **overrides: object) -> None:
    conn = connect_host(fleet.target(**overrides), fleet.hosts[index].address)
    try:
        assert conn.run("echo ok", cwd=None, env={}, timeout=10, max_output=64).output == "ok\n"
    finally:
        conn.close()


# -- known_hosts ---------------------------------------------------------------------------------


def test_a_revoked_host_key_is_refused(fleet: SshFleet, tmp_path: Path) -> None:
    listed = fleet.known_hosts.read_text()
    known = _known_hosts(
        tmp_path, f"{listed}# compromised, see ticket 42\n@revoked * {_host_key(fleet, 0)}\n"
    )
    error = _refused(fleet, known_hosts=str(known))
    assert isinstance(error, HostKeyRejected)
    message = str(error)
    assert message.startswith(f"{fleet.hosts[0].address}: host key REVOKED"), message
    assert _fingerprint(Path(f"{fleet.hosts[0].host_key}.pub")) in message
    assert f"{known}:{len(fleet.hosts) + 2}" in message
    _connects(fleet, 1, known_hosts=str(known))  # the other host's key is not revoked


def test_a_malformed_line_is_refused_naming_file_and_line(fleet: SshFleet, tmp_path: Path) -> None:
    for junk in ("just-one-field", f"[127.0.0.1]:{fleet.hosts[1].port} ssh-ed25519 %%%not-base64%%%"):
        known = _known_hosts(tmp_path, f"{fleet.known_hosts.read_text()}\n{junk}\n")
        error = _refused(fleet, known_hosts=str(known))
        assert isinstance(error, HostKeyRejected)
        assert str(error).startswith(f"{fleet.hosts[0].address}: {known}:{len(fleet.hosts) + 2}: "), error


def test_a_known_hosts_problem_is_reported_before_the_network_is_tried(
    fleet: SshFleet, tmp_path: Path
) -> None:
    known = _known_hosts(tmp_path, "@cert-authority\n")
    with pytest.raises(HostKeyRejected, match=r"known_hosts:1: "):
        connect_ssh(fleet.target(hosts=["127.0.0.1:1"], known_hosts=str(known)))


def test_a_cert_authority_for_the_host_is_refused_clearly(fleet: SshFleet, tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ca)], check=True)
    ca_line = f"@cert-authority [127.0.0.1]:* {' '.join(Path(f'{ca}.pub').read_text().split()[:2])}"
    known = _known_hosts(tmp_path, f"{ca_line}\n")
    message = str(_refused(fleet, known_hosts=str(known)))
    assert f"{known}:1 is a @cert-authority line" in message and "host certificates" in message
    # Beside the host's own key the CA line is not needed, and not in the way.
    _known_hosts(tmp_path, f"{ca_line}\n{fleet.known_hosts.read_text()}")
    _connects(fleet, known_hosts=str(known))


def test_hashed_and_wildcard_entries(fleet: SshFleet, tmp_path: Path) -> None:
    known = _known_hosts(tmp_path, fleet.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "127.0.0.1" not in known.read_text()
    _connects(fleet, 1, known_hosts=str(known))
    wildcard = _known_hosts(tmp_path, f"[127.0.0.?]:*,!nothing {_host_key(fleet, 1)}\n")
    _connects(fleet, 1, known_hosts=str(wildcard))


def test_a_host_with_several_keys_is_asked_for_the_listed_one(tmp_path: Path) -> None:
    """The host also has an RSA key; known_hosts lists only that one, so it must be offered."""
    with running_fleet(tmp_path / "own", 1) as own:
        rsa = tmp_path / "host_rsa"
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(rsa)], check=True)
        _reconfigure(own, f"HostKey {rsa}\n")
        kind, blob = Path(f"{rsa}.pub").read_text().split()[:2]
        known = _known_hosts(tmp_path, f"[127.0.0.1]:{own.hosts[0].port} {kind} {blob}\n")
        _connects(own, known_hosts=str(known))


# -- key_file ------------------------------------------------------------------------------------


def test_a_missing_key_file_is_permanent(fleet: SshFleet, tmp_path: Path) -> None:
    error = _refused(fleet, key_file=str(tmp_path / "id_gone"))
    assert isinstance(error, ConfigError) and not isinstance(error, TargetUnreachable)
    assert str(error) == f"ssh key_file {tmp_path / 'id_gone'} does not exist"


def test_a_public_key_file_is_permanent_and_names_the_private_one(fleet: SshFleet) -> None:
    message = str(_refused(fleet, key_file=f"{fleet.key_file}.pub"))
    assert message == (
        f"ssh key_file {fleet.key_file}.pub holds a public key; key_file must be the private key "
        f"(perhaps {fleet.key_file})"
    )


def test_an_encrypted_key_file_is_permanent(fleet: SshFleet, tmp_path: Path) -> None:
    locked = tmp_path / "id_locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(locked)], check=True)
    message = str(_refused(fleet, key_file=str(locked)))
    assert str(locked) in message and "is encrypted" in message and "agent" in message


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.mkdir(), "is not a regular file"),
        (lambda p: p.write_text(""), "is empty"),
        (
            lambda p: p.write_text("hello\n"),
            "is not a private key in a format paramiko reads (OpenSSH or PEM)",
        ),
    ],
)
def test_other_unusable_key_files(fleet: SshFleet, tmp_path: Path, make: object, problem: str) -> None:
    path = tmp_path / "id_odd"
    make(path)  # type: ignore[operator]
    assert str(_refused(fleet, key_file=str(path))) == f"ssh key_file {path} {problem}"


def test_a_key_file_problem_outranks_an_unreachable_host(fleet: SshFleet, tmp_path: Path) -> None:
    registry = TargetRegistry(
        {"vms": fleet.target(hosts=["127.0.0.1:1", fleet.hosts[0].address], key_file=str(tmp_path / "x"))}
    )
    with pytest.raises(ConfigError, match="does not exist"):
        registry.connect_hosts("vms")


# -- host labels ---------------------------------------------------------------------------------


def test_host_labels_bracket_ipv6_addresses() -> None:
    assert host_label(*parse_address("[::1]:43787", 22)) == "[::1]:43787"
    assert host_label(*parse_address("fd00::7", 22)) == "[fd00::7]:22"
    assert host_label(*parse_address("10.0.0.6:2222", 22)) == "10.0.0.6:2222"
    assert host_label(*parse_address("web-1", 2022)) == "web-1:2022"


def test_an_ipv6_host_end_to_end(tmp_path: Path) -> None:
    with running_fleet(tmp_path / "own", 1) as own:
        port = own.hosts[0].port
        _reconfigure(own, "ListenAddress ::1\n")
        known = _known_hosts(tmp_path, f"[::1]:{port} {_host_key(own, 0)}\n")
        hosts = TargetRegistry({"v6": own.target(hosts=[f"[::1]:{port}"], known_hosts=str(known))})
        [conn] = hosts.connect_hosts("v6")
        try:
            assert conn.name == f"[::1]:{port}"
            assert conn.run("echo ok", cwd=None, env={}, timeout=10, max_output=64).output == "ok\n"
        finally:
            conn.close()
        # Refusals name the host the same way, and the keyscan hint works for IPv6.
        _known_hosts(tmp_path, "")
        with pytest.raises(HostKeyRejected) as caught:
            hosts.connect_hosts("v6")
        assert str(caught.value).startswith(f"[::1]:{port}: host key unknown")
        assert f"ssh-keyscan -p {port} ::1 >> {known}" in str(caught.value)


def _reconfigure(fleet: SshFleet, extra: str) -> None:
    """Restart host 0's sshd with `extra` lines added to its configuration."""
    host = fleet.hosts[0]
    host.config.write_text(host.config.read_text() + extra)
    fleet.kill(0)
    fleet.start(0)
