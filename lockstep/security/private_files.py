"""Files and folders only their owner may read: `lockstep dev`'s config, tokens and webhook secret,
and the API's approval signing key.

Owns creating them 0600 (folders 0700) and tightening copies an older version left readable by
others; `mkdir(mode=...)` and `touch(mode=...)` alone do neither for a path that exists. It does
not decide which files are private: their owners do.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
PUBLIC_FILE = 0o644


def private_dir(path: Path) -> Path:
    """Create the folder (and its parents) and make it owner-only, even if it already existed."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)  # mkdir's mode skips an existing folder and is bent by the umask
    return path


def tighten(path: Path) -> None:
    """Make an existing file owner-only when group or others may read or write it."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, PRIVATE_FILE)


def write_private(path: Path, data: str | bytes) -> None:
    """Replace the file's content; it ends 0600 whatever mode an older copy had."""
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, PRIVATE_FILE)  # open's mode only applies to a file it creates
        handle.write(raw)


def create_private_once(path: Path, data: bytes) -> bool:
    """Create `path` holding `data`, 0600, unless it exists; return whether this call made it.

    Written beside it first and linked into place, so a process racing to create the same file
    sees either no file or the whole of one: never a half-written key.
    """
    staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    write_private(staged, data)
    try:
        os.link(staged, path)
    except FileExistsError:
        return False
    finally:
        staged.unlink()
    return True


def replace_public(path: Path, data: bytes) -> None:
    """Write a file anyone may read (a public key) atomically: readers never see half of it."""
    staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PUBLIC_FILE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, PUBLIC_FILE)
        handle.write(data)
    os.replace(staged, path)
