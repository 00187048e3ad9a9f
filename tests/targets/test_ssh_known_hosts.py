"""Reading known_hosts (lockstep.targets.ssh_known_hosts) without a host: the OpenSSH format,
refusals that name the file and line, and which key a host may offer. The same rules against a
real sshd are in test_ssh_config_errors.py."""

from __future__ import annotations

import base64
from pathlib import Path

import paramiko
import pytest

from lockstep.targets.ssh_known_hosts import HostKeyRejected, KnownHosts, known_hosts_name

LABEL = "web-1:2222"


def _key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate()


def _entry(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


def _load(tmp_path: Path, text: str) -> KnownHosts:
    path = tmp_path / "known_hosts"
    path.write_text(text)
    return KnownHosts.load(path, label=LABEL)


def _check(known: KnownHosts, key: paramiko.PKey, host: str = "web-1", port: int = 2222) -> None:
    known.check(key, host=host, port=port, label=LABEL)


def test_the_lookup_name_is_bracketed_off_port_22() -> None:
    assert known_hosts_name("web-1", 22) == "web-1"
    assert known_hosts_name("web-1", 2222) == "[web-1]:2222"
    assert known_hosts_name("::1", 2222) == "[::1]:2222"


def test_comments_blank_lines_lists_ports_and_case(tmp_path: Path) -> None:
    key = _key()
    known = _load(
        tmp_path,
        "# fleet keys\n\n   \n"
        f"other,[WEB-1]:2222,10.0.0.9 {_entry(key)} deploy@laptop\n"
        f"   web-2\t{_entry(key)}\n",
    )
    _check(known, key)
    _check(known, key, host="10.0.0.9", port=22)
    _check(known, key, host="web-2", port=22)
    with pytest.raises(HostKeyRejected, match="unknown"):
        _check(known, key, host="web-1", port=22)  # listed only with port 2222


def test_hashed_names_match_their_host_only(tmp_path: Path) -> None:
    key = _key()
    hashed = paramiko.HostKeys.hash_host("[web-1]:2222")
    known = _load(tmp_path, f"{hashed} {_entry(key)}\n")
    _check(known, key)
    with pytest.raises(HostKeyRejected, match="unknown"):
        _check(known, key, host="web-2")


def test_wildcards_and_negation(tmp_path: Path) -> None:
    key = _key()
    known = _load(tmp_path, f"[web-?]:2222,[*.example.com]:2222,![web-9]:2222 {_entry(key)}\n")
    _check(known, key)
    _check(known, key, host="a.b.example.com")
    for refused in ("web-9", "web-10", "example.com"):
        with pytest.raises(HostKeyRejected, match="unknown"):
            _check(known, key, host=refused)


def test_brackets_are_literal_not_a_character_class(tmp_path: Path) -> None:
    [line] = _load(tmp_path, f"[web-1]:2222 {_entry(_key())}\n").lines
    assert line.matches("[web-1]:2222")
    assert not line.matches("w:2222") and not line.matches("c:2222")  # as fnmatch would have it


def test_revoked_key_is_refused_even_where_listed(tmp_path: Path) -> None:
    key = _key()
    known = _load(tmp_path, f"[web-1]:2222 {_entry(key)}\n@revoked * {_entry(key)}\n")
    with pytest.raises(HostKeyRejected) as caught:
        _check(known, key)
    message = str(caught.value)
    assert "REVOKED" in message and f"{tmp_path / 'known_hosts'}:2" in message
    assert key.fingerprint in message and message.startswith(LABEL)
    assert not caught.value.retryable


def test_a_revoked_line_for_other_hosts_or_keys_does_not_matter(tmp_path: Path) -> None:
    key, other = _key(), _key()
    known = _load(
        tmp_path,
        f"[web-1]:2222 {_entry(key)}\n@revoked web-2 {_entry(key)}\n@revoked * {_entry(other)}\n",
    )
    _check(known, key)


def test_cert_authority_for_this_host_is_refused_naming_the_line(tmp_path: Path) -> None:
    key, ca = _key(), _key()
    known = _load(
        tmp_path, f"[web-2]:2222 {_entry(key)}\n@cert-authority *.example.com,[web-*]:2222 {_entry(ca)}\n"
    )
    with pytest.raises(HostKeyRejected) as caught:
        _check(known, key)
    message = str(caught.value)
    assert "@cert-authority" in message and "does not support host certificates" in message
    assert f"{tmp_path / 'known_hosts'}:2" in message and key.fingerprint in message


def test_cert_authority_is_ignored_where_it_is_not_needed(tmp_path: Path) -> None:
    key, ca = _key(), _key()
    known = _load(tmp_path, f"@cert-authority * {_entry(ca)}\n[web-1]:2222 {_entry(key)}\n")
    _check(known, key)  # the host's own key is listed: the CA line is not needed
    with pytest.raises(HostKeyRejected, match="unknown"):
        _load(tmp_path, f"@cert-authority *.example.com {_entry(ca)}\n").check(
            key, host="web-1", port=2222, label=LABEL
        )


def test_changed_key_names_every_expected_key_and_line(tmp_path: Path) -> None:
    key, old = _key(), _key()
    known = _load(tmp_path, f"# old\n[web-1]:2222 {_entry(old)}\n")
    with pytest.raises(HostKeyRejected, match="CHANGED") as caught:
        _check(known, key)
    assert old.fingerprint in str(caught.value) and f"{tmp_path / 'known_hosts'}:2" in str(caught.value)


def test_one_host_with_several_keys_of_one_type(tmp_path: Path) -> None:
    """Key rotation: both keys listed, either is accepted (paramiko compared the first only)."""
    old, new = _key(), _key()
    known = _load(tmp_path, f"[web-1]:2222 {_entry(old)}\n[web-1]:2222 {_entry(new)}\n")
    _check(known, old)
    _check(known, new)


def test_key_types_a_host_is_asked_for(tmp_path: Path) -> None:
    ecdsa, rsa = _key(), paramiko.RSAKey.generate(1024)
    known = _load(
        tmp_path, f"[web-1]:2222 {_entry(ecdsa)}\n[web-1]:2222 {_entry(rsa)}\nweb-2 {_entry(ecdsa)}\n"
    )
    assert known.key_types("web-1", 2222) == {"ecdsa-sha2-nistp256", "ssh-rsa"}
    assert known.key_types("web-3", 22) == set()


def test_key_types_paramiko_cannot_use_load_but_never_match(tmp_path: Path) -> None:
    key = _key()
    blob = paramiko.Message()  # a security key (FIDO) host key: OpenSSH knows it, paramiko not
    blob.add_string("sk-ssh-ed25519@openssh.com")
    blob.add_string(bytes(32))
    blob.add_string("ssh:")
    sk = f"sk-ssh-ed25519@openssh.com {base64.b64encode(blob.asbytes()).decode()}"
    known = _load(tmp_path, f"[web-1]:2222 {sk}\n")
    with pytest.raises(HostKeyRejected, match="unknown") as caught:
        _check(known, key)
    assert "lists a sk-ssh-ed25519@openssh.com key for it, which Lockstep cannot check" in str(caught.value)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[web-1]:2222", "expected host names, a key type and a base64 key"),
        ("[web-1]:2222 ssh-ed25519", "expected host names, a key type and a base64 key"),
        ("@trusted web-1 {key}", "unknown marker '@trusted'"),
        ("web-1 ssh-ed2551 AAAAC3NzaC1lZDI1NTE5", "unknown key type 'ssh-ed2551'"),
        ("web-1 ssh-ed25519 not*base64", "is not valid base64"),
        ("web-1 ssh-ed25519 {ecdsa_blob}", "labelled ssh-ed25519 but its data is ecdsa-sha2-nistp256"),
        ("web-1 {truncated}", "key data does not parse"),
        ("|1|bm90IGJhc2U2NA==|x {key}", "malformed hashed host name"),
        ("web-1,,web-2 {key}", "empty host name"),
    ],
)
def test_a_malformed_line_is_refused_naming_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    key = _key()
    text = line.format(key=_entry(key), ecdsa_blob=key.get_base64(), truncated=_entry(key)[:-12])
    path = tmp_path / "known_hosts"
    path.write_text(f"# ok\n[web-1]:2222 {_entry(key)}\n{text}\n")
    with pytest.raises(HostKeyRejected) as caught:
        KnownHosts.load(path, label=LABEL)
    message = str(caught.value)
    assert message.startswith(f"{LABEL}: {path}:3: ") and problem in message, message
    assert not caught.value.retryable


def test_a_missing_or_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HostKeyRejected, match="does not exist"):
        KnownHosts.load(tmp_path / "nope", label=LABEL)
    with pytest.raises(HostKeyRejected, match="cannot be read"):
        KnownHosts.load(tmp_path, label=LABEL)  # a directory


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    key = _key()
    path = tmp_path / "known_hosts"
    path.write_text("")
    with pytest.raises(HostKeyRejected, match="unknown"):
        KnownHosts.load(path, label=LABEL).check(key, host="web-1", port=2222, label=LABEL)
    path.write_text(f"[web-1]:2222 {_entry(key)}\n")
    KnownHosts.load(path, label=LABEL).check(key, host="web-1", port=2222, label=LABEL)
