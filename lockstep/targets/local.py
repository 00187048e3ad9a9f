"""The `local` target: one "host" whose every absolute path lies under a root folder.

Owns `LocalConnection`, the `HostConnection` over the local filesystem and `subprocess`, and
`connect_local`, which turns `LocalTargetSettings` into its single connection. A `dest` of
`/srv/web` becomes `<root>/srv/web`; every path goes through `local_path`, which refuses `..` and
anything that would leave the root through a symlink. Symlinks are stored with RELATIVE targets
(`current -> releases/<commit>`) so the tree stays valid if the root folder moves.

It does not sandbox commands: they run as this process's user with the real filesystem in view
(their working directory is mapped under the root and `LOCKSTEP_ROOT` names the root). Release
logic is not here but in `lockstep.targets.releases`. OS errors from file operations propagate
as `OSError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

from lockstep.domain.errors import DeploymentStepFailed, TargetUnreachable
from lockstep.settings import LocalTargetSettings
from lockstep.targets.host import CommandResult, HostConnection, OutputTail

_INHERITED_ENV = ("PATH", "HOME", "LANG")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# After the command exits, a background child may still hold its stdout; wait this long for EOF.
_DRAIN_SECONDS = 2.0


class LocalConnection(HostConnection):
    """A `HostConnection` on this machine, confined to `root`."""

    def __init__(self, root: Path, *, name: str = "local", interrupt: threading.Event | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.name = name
        # Set by the caller when its deployment is cancelled: a running command is killed.
        self.interrupt = interrupt

    # -- path mapping: the one place a host path becomes a local path -------------------------

    def local_path(self, path: str) -> Path:
        """`/srv/web` -> `<root>/srv/web`. Raises ValueError naming `path` if it is relative,
        contains `..`, or would leave the root through a symlinked directory."""
        posix = PurePosixPath(path)
        if not posix.is_absolute():
            raise ValueError(f"host path {path!r} must be absolute")
        if ".." in posix.parts:
            raise ValueError(f"host path {path!r} contains '..' and could leave the local target root")
        mapped = self.root.joinpath(*posix.parts[1:])
        # The last component may itself be a link (e.g. `current`); its parents must stay inside.
        if mapped != self.root and not mapped.parent.resolve().is_relative_to(self.root):
            raise ValueError(f"host path {path!r} leaves the local target root {self.root} via a symlink")
        return mapped

    def _host_view(self, local: str) -> str:
        """A local absolute path as the host sees it (inverse of `local_path`); others unchanged."""
        p = Path(local)
        if p.is_absolute() and p.is_relative_to(self.root):
            return "/" + p.relative_to(self.root).as_posix() if p != self.root else "/"
        return local

    # -- files ---------------------------------------------------------------------------------

    def ensure_dir(self, path: str) -> None:
        self.local_path(path).mkdir(parents=True, exist_ok=True)

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        # Not atomic on purpose: a torn file has the wrong sha256, so a retried staging rewrites it.
        p = self.local_path(path)
        try:
            p.write_bytes(data)
            os.chmod(p, mode)
        except OSError as e:
            raise DeploymentStepFailed(f"{self.name}: cannot write {path}: {e.strerror or e}") from e

    def read_file(self, path: str) -> bytes | None:
        p = self.local_path(path)
        return p.read_bytes() if p.is_file() else None

    def file_sha256(self, path: str) -> str | None:
        p = self.local_path(path)
        return _sha256_file(p) if p.is_file() else None

    def kind(self, path: str) -> str | None:
        try:
            mode = os.lstat(self.local_path(path)).st_mode
        except FileNotFoundError:
            return None
        return _kind_of(mode)

    def file_size(self, path: str) -> int | None:
        p = self.local_path(path)
        return p.stat().st_size if p.is_file() else None

    def free_bytes(self, path: str) -> int | None:
        p = self.local_path(path)
        while not p.exists() and p != self.root:
            p = p.parent
        try:
            st = os.statvfs(p)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    def tree_sha256(self, path: str) -> dict[str, str]:
        top = self.local_path(path)
        if top.is_symlink() or not top.is_dir():
            return {}
        digests = {}
        for folder, _dirs, names in os.walk(top):
            for name in names:
                p = Path(folder) / name
                if p.is_file() and not p.is_symlink():
                    digests[p.relative_to(top).as_posix()] = _sha256_file(p)
        return digests

    def tree_files(self, path: str, limit: int) -> list[str] | None:
        top = self.local_path(path)
        if top.is_symlink() or not top.is_dir():
            return []
        found: list[str] = []
        for folder, _dirs, names in os.walk(top):
            for name in names:
                p = Path(folder) / name
                if p.is_file() and not p.is_symlink():
                    found.append(p.relative_to(top).as_posix())
                    if len(found) > limit:
                        return None
        return sorted(found)

    def files_sha256(self, path: str, files: Sequence[str]) -> dict[str, str]:
        digests = {}
        for rel in files:
            p = self.local_path(f"{path.rstrip('/')}/{rel}")
            if p.is_file() and not p.is_symlink():
                digests[rel] = _sha256_file(p)
        return digests

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.local_path(path))

    def readlink(self, path: str, *, verbatim: bool = False) -> str | None:
        p = self.local_path(path)
        if not p.is_symlink():
            return None
        stored = os.readlink(p)
        return stored if verbatim else self._host_view(stored)

    def replace_symlink(self, link: str, target: str, *, verbatim: bool = False) -> None:
        p = self.local_path(link)
        if verbatim:
            stored = target  # restoring a link exactly as someone else made it
        elif PurePosixPath(target).is_absolute():
            stored = os.path.relpath(self.local_path(target), p.parent)
        else:
            stored = target
            landing = Path(os.path.normpath(p.parent / target))
            if not landing.is_relative_to(self.root):
                raise ValueError(f"symlink target {target!r} of {link!r} leaves the local target root")
        tmp = p.parent / f".{p.name}.tmp-{uuid.uuid4().hex[:12]}"
        os.symlink(stored, tmp)
        try:
            os.replace(tmp, p)  # rename(2) over the old link: `link` is never missing
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def remove(self, path: str) -> None:
        p = self.local_path(path)
        if p == self.root:
            raise ValueError(f"refusing to remove the local target root ({path!r})")
        if p.is_symlink() or p.is_file():
            p.unlink(missing_ok=True)
        elif p.is_dir():
            shutil.rmtree(p)
        elif os.path.lexists(p):
            p.unlink()

    def rename(self, src: str, dst: str) -> None:
        os.replace(self.local_path(src), self.local_path(dst))

    def list_dir(self, path: str) -> list[str]:
        p = self.local_path(path)
        return sorted(os.listdir(p)) if p.is_dir() else []

    # -- commands ------------------------------------------------------------------------------

    def run(
        self, command: str, *, cwd: str | None, env: Mapping[str, str], timeout: float, max_output: int
    ) -> CommandResult:
        workdir = self.local_path(cwd) if cwd is not None else self.root
        full_env = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}
        full_env.setdefault("PATH", _DEFAULT_PATH)
        full_env["LOCKSTEP_ROOT"] = str(self.root)
        full_env.update(env)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command],
                cwd=workdir,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a timeout kills every child
            )
        except OSError as e:
            return CommandResult(command, 127, f"cannot start command in {cwd or '/'}: {e}", 0.0, False)
        tail = OutputTail(max_output)
        lock = threading.Lock()
        assert proc.stdout is not None
        reader = threading.Thread(target=_pump, args=(proc.stdout, tail, lock), daemon=True)
        reader.start()
        timed_out = interrupted = False
        deadline = started + max(timeout, 0.0)
        try:
            while proc.poll() is None:
                if time.monotonic() >= deadline:
                    timed_out = True
                elif self.interrupt is not None and self.interrupt.is_set():
                    interrupted = True
                if timed_out or interrupted:
                    _kill_group(proc.pid)
                    proc.wait()
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=min(0.1, max(deadline - time.monotonic(), 0.0)))
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
        reader.join(_DRAIN_SECONDS)
        with lock:
            output = tail.text()
        duration = time.monotonic() - started
        if interrupted:
            output += "\n[interrupted: the deployment was cancelled]"
        exit_code = -1 if timed_out or interrupted else proc.returncode
        return CommandResult(command, exit_code, output, duration, timed_out)

    def close(self) -> None:
        """Nothing to release for the local target."""

    def __repr__(self) -> str:
        return f"LocalConnection(root={str(self.root)!r}, name={self.name!r})"


def _sha256_file(p: Path) -> str:
    digest = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _kind_of(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def _pump(stream: IO[bytes], tail: OutputTail, lock: threading.Lock) -> None:
    with contextlib.suppress(OSError, ValueError):
        while chunk := os.read(stream.fileno(), 65536):
            with lock:
                tail.feed(chunk)
    with contextlib.suppress(OSError):
        stream.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def connect_local(
    settings: LocalTargetSettings, *, interrupt: threading.Event | None = None
) -> list[LocalConnection]:
    """The single "host" of a local target; its root folder is created if missing."""
    root = Path(settings.root).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TargetUnreachable(f"local target root {root} cannot be created: {e}") from e
    return [LocalConnection(root, interrupt=interrupt)]
