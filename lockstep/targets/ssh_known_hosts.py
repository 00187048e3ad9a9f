"""A target's `known_hosts` file, read by Lockstep itself, and the decision whether to trust a host key.

Owns the OpenSSH known_hosts format as far as Lockstep honours it: comments and blank lines, host
lists separated by commas, `*`/`?` wildcards and `!` negations, `[host]:port` names, hashed
names (`|1|salt|hash`, from `ssh-keygen -H`), `@revoked` keys, and `@cert-authority` lines,
which are recognised but not honoured. Every line is parsed, and one that cannot be (or carries
an unknown marker or key type) fails the load with its file and line number: a file read halfway
would make hosts look unknown or changed for a reason nobody can see.

Deliberately does not: accept a key on first use, write the file, read any other file
(`~/.ssh/known_hosts` or `/etc/ssh/ssh_known_hosts` only if that is the file named), verify host
certificates, or resolve names (a host is looked up by the name or address it is configured
with; no CheckHostIP). Every refusal is a `HostKeyRejected`, which no retry can fix.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import paramiko
from paramiko.pkey import UnknownKeyType

from lockstep.domain.errors import LockstepError

CA_MARKER = "@cert-authority"
REVOKED_MARKER = "@revoked"
_HASH_MAGIC = "|1|"
_SHA1_BYTES = 20
# Key types OpenSSH writes to known_hosts. Those paramiko cannot verify (DSA, security keys) are
# kept so a shared file loads, and never match; any other type is a typo, so the line is an error.
_OPENSSH_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        "ssh-xmss@openssh.com",
    }
)
# paramiko's host key algorithms per key type: an RSA key is offered under its signature names.
_HOST_KEY_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")}


class HostKeyRejected(LockstepError):
    """The host's key is not trusted by known_hosts (unknown, changed, revoked), or the file is
    unusable (missing, unreadable, a malformed line). Retrying cannot help."""


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH looks a host up by: `host` on port 22, else `[host]:port`."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


@dataclass(frozen=True)
class KnownHostLine:
    """One key line: `marker` is None, CA_MARKER or REVOKED_MARKER; `key` is None for a key type
    paramiko cannot use (such a line never matches a host's key)."""

    lineno: int
    marker: str | None
    names: str
    key_type: str
    key: paramiko.PKey | None

    def matches(self, name: str) -> bool:
        """Whether this line's host field names `name` (a `known_hosts_name`)."""
        name = name.lower()
        if self.names.startswith(_HASH_MAGIC):
            salt, digest = _hashed_parts(self.names)
            return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)
        positive = False
        for pattern in self.names.lower().split(","):
            negated = pattern.startswith("!")
            if _glob(pattern[1:] if negated else pattern).fullmatch(name):
                if negated:
                    return False  # a negated match excludes the host whatever else matches
                positive = True
        return positive

    def same_key(self, key: paramiko.PKey) -> bool:
        return self.key is not None and self.key.asbytes() == key.asbytes()


@dataclass(frozen=True)
class KnownHosts:
    """Every key line of one known_hosts file, in file order."""

    path: Path
    lines: tuple[KnownHostLine, ...]

    @classmethod
    def load(cls, path: Path, *, label: str) -> KnownHosts:
        """Read and parse `path`; HostKeyRejected (naming the host `label`, the file and the line)
        if it is missing, unreadable or has a line that does not parse."""
        try:
            info = path.stat()
        except FileNotFoundError:
            raise HostKeyRejected(f"{label}: known_hosts file {path} does not exist") from None
        except OSError as e:
            raise HostKeyRejected(f"{label}: known_hosts file {path} cannot be read: {e.strerror}") from None
        try:
            # Parsed once per version of the file, not once per host: a fleet connects all at once.
            return _parse(path, (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
        except _BadLine as e:
            raise HostKeyRejected(
                f"{label}: {path}:{e.lineno}: {e.problem}; Lockstep reads every line of its known_hosts "
                "file, so fix or remove that line"
            ) from None
        except OSError as e:
            raise HostKeyRejected(f"{label}: known_hosts file {path} cannot be read: {e.strerror}") from None

    def key_types(self, host: str, port: int) -> set[str]:
        """The key types this file trusts for the host, so those are asked of it first."""
        name = known_hosts_name(host, port)
        return {
            line.key.get_name()
            for line in self.lines
            if line.marker is None and line.key is not None and line.matches(name)
        }

    def check(self, key: paramiko.PKey, *, host: str, port: int, label: str) -> None:
        """Return if `key` is trusted for the host; else raise HostKeyRejected naming `label`.

        As in OpenSSH, a revoked key is refused even where another line lists it.
        """
        name = known_hosts_name(host, port)
        matching = [line for line in self.lines if line.matches(name)]
        offered = fingerprint(key)
        for line in matching:
            if line.marker == REVOKED_MARKER and line.same_key(key):
                raise HostKeyRejected(
                    f"{label}: host key REVOKED: it offered {offered}, which {self._at(line)} marks "
                    "@revoked; refusing to connect"
                )
        plain = [line for line in matching if line.marker is None]
        if any(line.same_key(key) for line in plain):
            return
        for line in matching:
            if line.marker == CA_MARKER:
                raise HostKeyRejected(
                    f"{label}: {self._at(line)} is a @cert-authority line for this host, but Lockstep "
                    f"does not support host certificates; list the host's own key instead (it offered "
                    f"{offered}; verify it, then e.g. `{_keyscan(host, port, self.path)}`)"
                )
        usable = [line for line in plain if line.key is not None]
        if usable:
            expected = ", ".join(f"{fingerprint(line.key)} ({self._at(line)})" for line in usable if line.key)
            raise HostKeyRejected(
                f"{label}: host key CHANGED: it offered {offered} but {self.path} expects {expected}; "
                f"refusing to connect (if the host was re-keyed on purpose, update {self.path})"
            )
        unusable = "".join(
            f"; {self._at(line)} lists a {line.key_type} key for it, which Lockstep cannot check"
            for line in plain
        )
        raise HostKeyRejected(
            f"{label}: host key unknown: {self.path} has no entry for {name} (it offered {offered})"
            f"{unusable}; refusing to connect. Verify the fingerprint, then add it, e.g. "
            f"`{_keyscan(host, port, self.path)}`"
        )

    def _at(self, line: KnownHostLine) -> str:
        return f"{self.path}:{line.lineno}"


class CheckKnownHosts(paramiko.MissingHostKeyPolicy):
    """The paramiko policy that decides, through `KnownHosts.check`, every host key.

    The client is given no host keys of its own, so paramiko asks this policy about every key;
    raising refuses the connection before authentication."""

    def __init__(self, known: KnownHosts, *, host: str, port: int, label: str) -> None:
        self._known, self._host, self._port, self._label = known, host, port, label

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        self._known.check(key, host=self._host, port=self._port, label=self._label)


def preferring(key_types: set[str]) -> Callable[..., paramiko.Transport]:
    """A paramiko `transport_factory` asking the host for the key types in `key_types` first.

    A host with several keys offers the one the client prefers; without this, a file that lists
    only a host's RSA key would see its ed25519 key and call the host changed."""
    wanted = {alg for t in key_types for alg in _HOST_KEY_ALGORITHMS.get(t, (t,))}

    def make(sock: Any, **kwargs: Any) -> paramiko.Transport:
        transport = paramiko.Transport(sock, **kwargs)
        options = transport.get_security_options()
        current = list(options.key_types)
        options.key_types = [t for t in current if t in wanted] + [t for t in current if t not in wanted]
        return transport

    return make


# -- parsing ----------------------------------------------------------------------------------


class _BadLine(Exception):
    def __init__(self, lineno: int, problem: str) -> None:
        self.lineno, self.problem = lineno, problem


@functools.lru_cache(maxsize=8)
def _parse(path: Path, _version: tuple[int, ...]) -> KnownHosts:
    lines = []
    for lineno, raw in enumerate(path.read_bytes().splitlines(), 1):
        text = raw.decode("utf-8", "replace").strip()
        if text and not text.startswith("#"):
            lines.append(_parse_line(lineno, text))
    return KnownHosts(path, tuple(lines))


def _parse_line(lineno: int, text: str) -> KnownHostLine:
    def bad(problem: str) -> NoReturn:
        raise _BadLine(lineno, problem)

    fields = text.split()
    marker = None
    if fields[0].startswith("@"):
        marker = fields.pop(0)
        if marker not in (CA_MARKER, REVOKED_MARKER):
            bad(f"unknown marker {marker!r} (known: {CA_MARKER}, {REVOKED_MARKER})")
    if len(fields) < 3:
        bad("expected host names, a key type and a base64 key")
    names, key_type, blob_text = fields[:3]
    if names.startswith(_HASH_MAGIC):
        try:
            _hashed_parts(names)
        except ValueError as e:
            bad(f"malformed hashed host name: {e}")
    elif any(not pattern or pattern == "!" for pattern in names.split(",")):
        bad(f"empty host name in {names!r}")
    if key_type not in _OPENSSH_KEY_TYPES and not key_type.endswith("-cert-v01@openssh.com"):
        bad(f"unknown key type {key_type!r}")
    try:
        blob = base64.b64decode(blob_text, validate=True)
    except binascii.Error:
        bad(f"the {key_type} key is not valid base64")
    inner = _blob_type(blob)
    if inner != key_type:
        bad(f"the key is labelled {key_type} but its data is {'not a key' if inner is None else inner}")
    try:
        key = paramiko.PKey.from_type_string(key_type, blob)
    except UnknownKeyType:
        return KnownHostLine(lineno, marker, names, key_type, None)
    except Exception:  # paramiko raises whatever its parser trips on; the line is what matters
        bad(f"the {key_type} key data does not parse")
    if key.asbytes() != blob:  # paramiko reads truncated or padded data without complaint
        bad(f"the {key_type} key data does not parse")
    return KnownHostLine(lineno, marker, names, key_type, key)


def _hashed_parts(names: str) -> tuple[bytes, bytes]:
    """(salt, sha1 digest) of `|1|salt|hash`; ValueError if it is not that."""
    parts = names[len(_HASH_MAGIC) :].split("|")
    if len(parts) != 2:
        raise ValueError("expected |1|salt|hash")
    try:
        salt, digest = (base64.b64decode(p, validate=True) for p in parts)
    except binascii.Error:
        raise ValueError("salt or hash is not base64") from None
    if len(salt) != _SHA1_BYTES or len(digest) != _SHA1_BYTES:
        raise ValueError(f"salt and hash must be {_SHA1_BYTES} bytes each")
    return salt, digest


def _blob_type(blob: bytes) -> str | None:
    """The key type a public key blob starts with (an SSH string), or None."""
    if len(blob) < 4:
        return None
    (size,) = struct.unpack(">I", blob[:4])
    name = blob[4 : 4 + size]
    if size == 0 or len(name) != size or not name.isascii():
        return None
    return name.decode("ascii")


@functools.lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """OpenSSH's host pattern: `*` any run, `?` one character, nothing else special."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _keyscan(host: str, port: int, path: Path) -> str:
    port_option = "" if port == 22 else f"-p {port} "
    return f"ssh-keyscan {port_option}{host} >> {os.fspath(path)}"
