"""The private key an ssh target authenticates with (`key_file`), loaded before any host is dialled.

Owns reading the key and saying precisely what is wrong with an unusable one: missing, not a
file, unreadable, a public key, encrypted, of a type paramiko cannot sign with, or not a key at
all. Each is a `ConfigError`: the same file fails the same way on every attempt, so it is
permanent, and it is the server configuration that needs fixing. A `<key_file>-cert.pub` beside
the key is loaded with it, as OpenSSH and paramiko do.

Deliberately does not: ask for passphrases (Lockstep runs unattended; an encrypted key belongs
in an SSH agent, with `key_file` omitted), talk to the agent, or check the file's permissions.
"""

from __future__ import annotations

import functools
import re
import stat
from pathlib import Path

import paramiko
from paramiko.pkey import UnknownKeyType

from lockstep.domain.errors import ConfigError

_MAX_KEY_BYTES = 64 * 1024  # a 16384-bit RSA key is under 13 KiB; more is not a key
_PUBLIC_KEY = re.compile(  # OpenSSH's one-line format, PEM and RFC 4716
    rb"^\s*(?:(?:ssh|ecdsa|sk)-\S+ [A-Za-z0-9+/]|-----BEGIN (?:RSA )?PUBLIC KEY-----"
    rb"|---- BEGIN SSH2 PUBLIC KEY)"
)


def load_key_file(path: Path) -> paramiko.PKey:
    """The private key at `path`; a ConfigError naming the path and the problem if it is unusable."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _unusable(path, "does not exist") from None
    except OSError as e:
        raise _unusable(path, f"cannot be read: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _unusable(path, "is not a regular file")
    if info.st_size > _MAX_KEY_BYTES:
        raise _unusable(path, f"is {info.st_size} bytes, too large to be a private key")
    # Loaded once per version of the file, not once per host: a fleet connects all at once.
    return _load(path, (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))


@functools.lru_cache(maxsize=8)
def _load(path: Path, _version: tuple[int, ...]) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except OSError as e:
        raise _unusable(path, f"cannot be read: {e.strerror}") from None
    except TypeError as e:  # cryptography's way of saying that a password is needed
        if "password" not in str(e).lower():
            raise
        raise _unusable(
            path,
            "is encrypted (passphrase-protected); Lockstep needs an unencrypted key, or load it "
            "into an SSH agent and omit key_file",
        ) from None
    except UnknownKeyType:
        raise _unusable(path, "holds a key type paramiko cannot use (use ed25519, ecdsa or rsa)") from None
    except (ValueError, paramiko.SSHException):
        raise _unusable(path, _why_not_a_key(path)) from None


def _why_not_a_key(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"cannot be read: {e.strerror}"
    if not data.strip():
        return "is empty"
    if _PUBLIC_KEY.match(data):
        private = path.with_suffix("") if path.suffix == ".pub" else None
        hint = f" (perhaps {private})" if private is not None and private.is_file() else ""
        return f"holds a public key; key_file must be the private key{hint}"
    return "is not a private key in a format paramiko reads (OpenSSH or PEM)"


def _unusable(path: Path, problem: str) -> ConfigError:
    return ConfigError(f"ssh key_file {path} {problem}")
