"""Loading a policy bundle folder: its Rego modules, its data and its revision.

A bundle is a folder as OPA serves it: every `.rego` file is a module, every `data.json` is merged
into `data` at its folder's path (`policies/data.json` at the root, `policies/lockstep/data.json`
under `data.lockstep`). Other `.json` files are not loaded, as in an OPA bundle. The revision is a
sha256 over the sorted relative paths and contents of every file in the folder, tests and docs
included, so any change to what was shipped changes the revision a decision records.

This module reads files and reports unreadable or invalid ones by name; it compiles nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockstep.domain.errors import LockstepError

DATA_FILE = "data.json"
TEST_SUFFIX = "_test.rego"
# Bounds on what a bundle folder may hold (every file is read and hashed): a policy path pointed at
# the wrong folder (`/tmp`, a home directory) is refused naming the bound, not read into memory.
MAX_FILES = 2000
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024


class PolicyBundleError(LockstepError):
    """A bundle folder is missing, or a file in it is unreadable or invalid. Fix the bundle."""


@dataclass(frozen=True)
class PolicyBundle:
    root: Path
    modules: dict[str, str]  # relative posix path -> Rego source, tests included
    data: dict[str, Any]  # every data.json, merged at its folder's path
    revision: str

    @property
    def policy_modules(self) -> dict[str, str]:
        """The modules that decide: everything but `*_test.rego`."""
        return {p: s for p, s in self.modules.items() if not p.endswith(TEST_SUFFIX)}

    @property
    def test_modules(self) -> dict[str, str]:
        return {p: s for p, s in self.modules.items() if p.endswith(TEST_SUFFIX)}


def bundle_files(root: Path) -> list[Path]:
    """Every regular file under `root`, sorted by relative posix path."""
    if not root.is_dir():
        raise PolicyBundleError(f"policy bundle {root} is not a directory")
    files: list[Path] = []
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if not path.is_file():
                continue
            files.append(path)
            if len(files) > MAX_FILES:
                raise PolicyBundleError(
                    f"policy bundle {root} holds more than {MAX_FILES} files: is policy.path the "
                    "bundle folder?"
                )
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise PolicyBundleError(
                    f"{path}: {size} bytes, more than a policy file may hold ({MAX_FILE_BYTES} bytes)"
                )
            total += size
            if total > MAX_TOTAL_BYTES:
                raise PolicyBundleError(
                    f"policy bundle {root} holds more than {MAX_TOTAL_BYTES} bytes: is policy.path the "
                    "bundle folder?"
                )
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detector (path, size, mtime) so callers re-hash only when something moved."""
    entries = []
    for p in bundle_files(root):
        st = p.stat()
        entries.append((p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
    return tuple(entries)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise PolicyBundleError(f"{path}: cannot read policy file: {e.strerror or e}") from e


def _revision(contents: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(contents):
        # Length-prefixed so that moving bytes between a path and a content changes the hash.
        for part in (rel.encode("utf-8"), contents[rel]):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def bundle_revision(path: str | Path) -> str:
    """sha256 over the sorted relative paths and contents of every file in the bundle folder."""
    root = Path(path)
    return _revision({p.relative_to(root).as_posix(): _read(p) for p in bundle_files(root)})


def _merge(target: dict[str, Any], prefix: list[str], value: Any, file: Path) -> None:
    node = target
    for key in prefix:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise PolicyBundleError(f"{file}: data at {'.'.join(prefix)} conflicts with a value above it")
        node = child
    if not isinstance(value, dict):
        raise PolicyBundleError(f"{file}: data.json must hold a JSON object")
    for key, item in value.items():
        if isinstance(item, dict) and isinstance(node.get(key), dict):
            _merge(node, [key], item, file)
        elif key in node:
            raise PolicyBundleError(f"{file}: key {'.'.join([*prefix, key])} is already defined")
        else:
            node[key] = item


def load_bundle(path: str | Path) -> PolicyBundle:
    """Read a bundle folder; raise `PolicyBundleError` naming the file when one is unusable."""
    root = Path(path)
    contents = {p.relative_to(root).as_posix(): _read(p) for p in bundle_files(root)}
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    for rel, raw in contents.items():
        file = root / rel
        name = rel.rsplit("/", 1)[-1]
        if name.endswith(".rego"):
            try:
                modules[rel] = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise PolicyBundleError(f"{file}: not UTF-8 text: {e.reason} at byte {e.start}") from e
        elif name == DATA_FILE:
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise PolicyBundleError(f"{file}: invalid JSON: {e}") from e
            _merge(data, rel.split("/")[:-1], value, file)
    if not modules:
        raise PolicyBundleError(f"policy bundle {root} has no .rego files")
    return PolicyBundle(root=root, modules=modules, data=data, revision=_revision(contents))
