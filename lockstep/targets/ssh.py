"""The `ssh` target: one paramiko connection per host, with files over SFTP and commands over exec.

Owns `SshConnection` (the `HostConnection` of one host: one transport and one lazily opened SFTP
session, reused for everything an activity does there), `connect_ssh` (every host of an
`SshTargetSettings`, all or none) and the errors that say whether retrying can help:
`TargetUnreachable` (network, retryable), `HostKeyRejected`, `SshAuthenticationFailed` and
`ConfigError` for an unusable `key_file` (configuration, permanent). Host keys come from the
target's `known_hosts` file alone, read by `lockstep.targets.ssh_known_hosts`, and an unknown host
is refused, never trusted on first use; the key is read by `lockstep.targets.ssh_key_file`.

Files are written under a temporary name and renamed into place, so a torn upload is never taken
for a file; `current` is switched by renaming a temporary link over it. A command runs as
`/bin/sh -c` in its own process group; on timeout or `interrupt` that group is killed through a
second channel. How a command is wrapped, read and killed is `lockstep.targets.ssh_exec`; this
module opens its channels and owns the error boundary. Release logic is not here but in
`lockstep.targets.releases`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import posixpath
import re
import shlex
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko

from lockstep.domain.errors import DeploymentStepFailed, LockstepError, TargetUnreachable
from lockstep.domain.host_addresses import host_label as host_label
from lockstep.domain.host_addresses import parse_address as parse_address
from lockstep.settings import SshTargetSettings
from lockstep.targets.host import CommandResult, HostConnection
from lockstep.targets.release_layout import free_space_hint
from lockstep.targets.ssh_exec import NETWORK_ERRORS as _NETWORK_ERRORS
from lockstep.targets.ssh_exec import collect_output, kill_process_group, start_command
from lockstep.targets.ssh_key_file import load_key_file
from lockstep.targets.ssh_known_hosts import CheckKnownHosts, KnownHosts, fingerprint, preferring
from lockstep.targets.ssh_known_hosts import HostKeyRejected as HostKeyRejected  # re-exported

_REMOTE_HASH_BYTES = 1 << 20  # larger files are hashed on the host instead of downloaded
_TREE_LISTING_BYTES = 64 << 20  # sha256 listing of a release: ~100 bytes a file
_PATHS_PER_COMMAND_BYTES = 64 << 10  # paths named in one hashing command


class SshAuthenticationFailed(LockstepError):
    """The host refused the user's key (or the agent's). Retrying cannot help."""


class SshConnection(HostConnection):
    """A `HostConnection` to one host over an established paramiko client."""

    def __init__(
        self,
        client: paramiko.SSHClient,
        *,
        name: str,
        io_timeout: float = 60.0,
        interrupt: threading.Event | None = None,
    ) -> None:
        self.name = name
        self.interrupt = interrupt  # set when the deployment is cancelled: a running command is killed
        self._client = client
        self._io_timeout = io_timeout
        self._sftp_client: paramiko.SFTPClient | None = None

    # -- the boundary: library errors become Lockstep errors naming the host --------------------

    @contextlib.contextmanager
    def _boundary(self, what: str) -> Iterator[None]:
        try:
            yield
        except _NETWORK_ERRORS as e:
            raise TargetUnreachable(
                f"{self.name}: connection lost during {what}: {e or type(e).__name__}"
            ) from e
        except OSError as e:
            if not self._alive():
                raise TargetUnreachable(f"{self.name}: connection lost during {what}: {e}") from e
            # SFTP says little ("Failure"): the message names the host and the operation.
            raise OSError(e.errno, f"{self.name}: {what} failed: {e.strerror or e}") from e

    def _alive(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def _transport(self) -> paramiko.Transport:
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise TargetUnreachable(f"{self.name}: the ssh connection is closed")
        return transport

    @property
    def _sftp(self) -> paramiko.SFTPClient:
        if self._sftp_client is None:
            with self._boundary("opening SFTP"):
                sftp = self._client.open_sftp()
                channel = sftp.get_channel()
                if channel is not None:
                    channel.settimeout(self._io_timeout)
                self._sftp_client = sftp
        return self._sftp_client

    def _lstat(self, path: str, *, follow: bool = False) -> paramiko.SFTPAttributes | None:
        with self._boundary(f"stat {path}"):
            try:
                return self._sftp.stat(path) if follow else self._sftp.lstat(path)
            except FileNotFoundError:
                return None

    # -- files ---------------------------------------------------------------------------------

    def ensure_dir(self, path: str) -> None:
        attrs = self._lstat(path, follow=True)
        if attrs is not None and stat.S_ISDIR(attrs.st_mode or 0):
            return
        parent = posixpath.dirname(path.rstrip("/"))
        if parent and parent != path:
            self.ensure_dir(parent)
        with self._boundary(f"mkdir {path}"):
            try:
                self._sftp.mkdir(path)
            except OSError:
                again = self._lstat(path, follow=True)
                if again is None or not stat.S_ISDIR(again.st_mode or 0):
                    raise

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        tmp = f"{posixpath.dirname(path)}/.{posixpath.basename(path)}.tmp-{uuid.uuid4().hex[:12]}"
        with self._boundary(f"upload of {path}"):
            try:
                with self._sftp.open(tmp, "wb") as f:
                    f.set_pipelined(True)
                    f.write(data)
                    f.chmod(mode)
                # A pipelined write does not report a failed WRITE (ENOSPC, a quota): the size of
                # what arrived does, before the file takes its name.
                arrived = self._sftp.stat(tmp).st_size
                if arrived != len(data):
                    raise DeploymentStepFailed(
                        f"{self.name}: upload of {path} is incomplete: {arrived} of {len(data)} "
                        f"bytes arrived{free_space_hint(self, posixpath.dirname(path))}"
                    )
                self._sftp.posix_rename(tmp, path)
            except BaseException:
                if self._alive():
                    with contextlib.suppress(OSError, *_NETWORK_ERRORS):
                        self._sftp.remove(tmp)
                raise

    def read_file(self, path: str) -> bytes | None:
        attrs = self._lstat(path, follow=True)
        if attrs is None or not stat.S_ISREG(attrs.st_mode or 0):
            return None
        with self._boundary(f"download of {path}"), self._sftp.open(path, "rb") as f:
            f.prefetch(attrs.st_size)
            return bytes(f.read())

    def file_sha256(self, path: str) -> str | None:
        attrs = self._lstat(path, follow=True)
        if attrs is None or not stat.S_ISREG(attrs.st_mode or 0):
            return None
        if (attrs.st_size or 0) >= _REMOTE_HASH_BYTES:
            result = self.run(
                f"sha256sum -- {shlex.quote(path)}", cwd=None, env={}, timeout=300, max_output=4096
            )
            digest = result.output.split(" ", 1)[0].strip()
            if result.ok and re.fullmatch(r"[0-9a-f]{64}", digest):
                return digest
        data = self.read_file(path)
        return None if data is None else hashlib.sha256(data).hexdigest()

    def exists(self, path: str) -> bool:
        return self._lstat(path) is not None

    def kind(self, path: str) -> str | None:
        attrs = self._lstat(path)
        if attrs is None:
            return None
        mode = attrs.st_mode or 0
        if stat.S_ISLNK(mode):
            return "link"
        if stat.S_ISDIR(mode):
            return "dir"
        return "file" if stat.S_ISREG(mode) else "other"

    def file_size(self, path: str) -> int | None:
        attrs = self._lstat(path, follow=True)
        if attrs is None or not stat.S_ISREG(attrs.st_mode or 0):
            return None
        return attrs.st_size

    def free_bytes(self, path: str) -> int | None:
        script = (
            f'p={shlex.quote(path)}; while [ ! -e "$p" ] && [ "$p" != / ]; do '
            'p=$(dirname -- "$p"); done; df -Pk -- "$p" | tail -n 1'
        )
        result = self.run(script, cwd=None, env={}, timeout=30, max_output=4096)
        fields = result.output.split()
        return int(fields[3]) * 1024 if result.ok and len(fields) >= 4 and fields[3].isdigit() else None

    def tree_sha256(self, path: str) -> dict[str, str]:
        attrs = self._lstat(path)
        if attrs is None or not stat.S_ISDIR(attrs.st_mode or 0):
            return {}
        # One round trip for a whole release: NUL-separated `<sha256>  ./<path>` records.
        listing = self.run(
            f"cd -- {shlex.quote(path)} && find . -type f -print0 | xargs -0 -r sha256sum -z --",
            cwd=None,
            env={},
            timeout=600,
            max_output=_TREE_LISTING_BYTES,
        )
        if listing.ok and not listing.output.startswith("[..."):
            return _sha256_records(listing.output)
        return self._tree_sha256_by_file(path)

    def tree_files(self, path: str, limit: int) -> list[str] | None:
        attrs = self._lstat(path)
        if attrs is None or not stat.S_ISDIR(attrs.st_mode or 0):
            return []
        # Names only, NUL-separated; `head` stops the listing one past the limit.
        listing = self.run(
            f"cd -- {shlex.quote(path)} && find . -type f -print0 | head -z -n {limit + 1}",
            cwd=None,
            env={},
            timeout=600,
            max_output=_TREE_LISTING_BYTES,
        )
        if not listing.ok or listing.output.startswith("[..."):
            return self._tree_files_by_sftp(path, limit)  # no GNU `head -z` there
        names = sorted(n.removeprefix("./") for n in listing.output.split("\0") if n.startswith("./"))
        return None if len(names) > limit else names

    def _tree_files_by_sftp(self, path: str, limit: int) -> list[str] | None:
        found: list[str] = []
        pending = [""]
        while pending:
            rel_dir = pending.pop()
            folder = f"{path}/{rel_dir}" if rel_dir else path
            with self._boundary(f"listing {folder}"):
                entries = self._sftp.listdir_attr(folder)
            for entry in entries:
                rel = f"{rel_dir}/{entry.filename}" if rel_dir else entry.filename
                if stat.S_ISDIR(entry.st_mode or 0):
                    pending.append(rel)
                elif stat.S_ISREG(entry.st_mode or 0):
                    found.append(rel)
                    if len(found) > limit:
                        return None
        return sorted(found)

    def files_sha256(self, path: str, files: Sequence[str]) -> dict[str, str]:
        # One round trip per ~64 KiB of paths: `find` keeps regular files (no symlinks), one
        # `sha256sum -z` hashes them; a path that is not there is simply not listed.
        digests: dict[str, str] = {}
        chunks: list[list[str]] = [[]]
        size = 0
        for rel in files:
            quoted = shlex.quote(f"./{rel}")
            if size + len(quoted) > _PATHS_PER_COMMAND_BYTES and chunks[-1]:
                chunks.append([])
                size = 0
            chunks[-1].append(quoted)
            size += len(quoted) + 1
        for chunk in (c for c in chunks if c):
            listing = self.run(
                f"cd -- {shlex.quote(path)} && find {' '.join(chunk)} -maxdepth 0 -type f -print0 "
                "2>/dev/null | xargs -0 -r sha256sum -z --",
                cwd=None,
                env={},
                timeout=600,
                max_output=_TREE_LISTING_BYTES,
            )
            if not listing.ok or listing.output.startswith("[..."):
                return self._files_sha256_by_file(path, files)
            digests.update(_sha256_records(listing.output))
        return {rel: digests[rel] for rel in files if rel in digests}

    def _files_sha256_by_file(self, path: str, files: Sequence[str]) -> dict[str, str]:
        """The slow way, one file at a time, for hosts without GNU `sha256sum -z`."""
        found = {rel: f"{path}/{rel}" for rel in files if self.kind(f"{path}/{rel}") == "file"}
        digests = {rel: self.file_sha256(full) for rel, full in found.items()}
        return {rel: digest for rel, digest in digests.items() if digest is not None}

    def _tree_sha256_by_file(self, path: str) -> dict[str, str]:
        """The slow way, one file at a time, for hosts without GNU `sha256sum -z`."""
        digests: dict[str, str] = {}
        pending = [""]
        while pending:
            rel_dir = pending.pop()
            folder = f"{path}/{rel_dir}" if rel_dir else path
            with self._boundary(f"listing {folder}"):
                entries = self._sftp.listdir_attr(folder)
            for entry in entries:
                rel = f"{rel_dir}/{entry.filename}" if rel_dir else entry.filename
                mode = entry.st_mode or 0
                if stat.S_ISDIR(mode):
                    pending.append(rel)
                elif stat.S_ISREG(mode):
                    digest = self.file_sha256(f"{path}/{rel}")
                    if digest is not None:
                        digests[rel] = digest
        return digests

    def readlink(self, path: str, *, verbatim: bool = False) -> str | None:
        attrs = self._lstat(path)
        if attrs is None or not stat.S_ISLNK(attrs.st_mode or 0):
            return None
        with self._boundary(f"readlink {path}"):
            return self._sftp.readlink(path)

    def replace_symlink(self, link: str, target: str, *, verbatim: bool = False) -> None:
        tmp = f"{posixpath.dirname(link)}/.{posixpath.basename(link)}.tmp-{uuid.uuid4().hex[:12]}"
        with self._boundary(f"switching {link}"):
            self._sftp.symlink(target, tmp)
            try:
                self._sftp.posix_rename(tmp, link)  # rename(2) over the old link: never missing
            except BaseException:
                if self._alive():
                    with contextlib.suppress(OSError, *_NETWORK_ERRORS):
                        self._sftp.remove(tmp)
                raise

    def remove(self, path: str) -> None:
        if posixpath.normpath(path) == "/":
            raise ValueError(f"{self.name}: refusing to remove the root directory ({path!r})")
        attrs = self._lstat(path)
        if attrs is None:
            return
        if not stat.S_ISDIR(attrs.st_mode or 0):
            with self._boundary(f"removing {path}"):
                self._sftp.remove(path)
            return
        # One round trip for a whole release tree, instead of one SFTP call per entry.
        result = self.run(f"rm -rf -- {shlex.quote(path)}", cwd=None, env={}, timeout=300, max_output=4096)
        if not result.ok:
            raise OSError(errno.EIO, f"{self.name}: cannot remove {path}: {result.output.strip()}")

    def rename(self, src: str, dst: str) -> None:
        with self._boundary(f"renaming {src}"):
            self._sftp.posix_rename(src, dst)

    def list_dir(self, path: str) -> list[str]:
        attrs = self._lstat(path, follow=True)
        if attrs is None or not stat.S_ISDIR(attrs.st_mode or 0):
            return []
        with self._boundary(f"listing {path}"):
            return sorted(self._sftp.listdir(path))

    # -- commands ------------------------------------------------------------------------------

    def run(
        self, command: str, *, cwd: str | None, env: Mapping[str, str], timeout: float, max_output: int
    ) -> CommandResult:
        started = time.monotonic()
        with self._boundary(f"command {command!r}"):
            channel = self._transport().open_session(timeout=self._io_timeout)
            try:
                start_command(channel, command, cwd=cwd, env=env)
                return collect_output(
                    channel,
                    command,
                    name=self.name,
                    started=started,
                    timeout=timeout,
                    max_output=max_output,
                    interrupt=self.interrupt,
                    alive=self._alive,
                    kill_group=self._kill_group,
                )
            finally:
                channel.close()

    def _kill_group(self, pgid: int | None) -> None:
        if not pgid or not self._alive():
            return
        kill_process_group(self._transport(), pgid, io_timeout=self._io_timeout)

    def close(self) -> None:
        if self._sftp_client is not None:
            with contextlib.suppress(Exception):
                self._sftp_client.close()
            self._sftp_client = None
        self._client.close()

    def __repr__(self) -> str:
        return f"SshConnection(name={self.name!r})"


def connect_host(
    settings: SshTargetSettings, address: str, *, interrupt: threading.Event | None = None
) -> SshConnection:
    """Connect and authenticate to one host; errors name it and say whether a retry helps.

    known_hosts and key_file are read before the host is dialled: a problem with either is a
    permanent error however the network behaves."""
    host, port = parse_address(address, settings.port)
    name = host_label(host, port)
    known = KnownHosts.load(Path(settings.known_hosts).expanduser(), label=name)
    key = load_key_file(Path(settings.key_file).expanduser()) if settings.key_file else None
    client = paramiko.SSHClient()  # no host keys of its own: `CheckKnownHosts` decides every key
    client.set_missing_host_key_policy(CheckKnownHosts(known, host=host, port=port, label=name))
    timeout = settings.connect_timeout.total_seconds()
    try:
        client.connect(
            host,
            port=port,
            username=settings.user,
            pkey=key,
            allow_agent=key is None,
            look_for_keys=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            transport_factory=preferring(known.key_types(host, port)),
        )
    except HostKeyRejected:
        client.close()
        raise
    except paramiko.AuthenticationException as e:
        client.close()
        how = f"key file {settings.key_file} ({fingerprint(key)})" if key else "the SSH agent's keys"
        raise SshAuthenticationFailed(f"{name}: user {settings.user!r} was refused with {how}: {e}") from None
    except paramiko.ssh_exception.NoValidConnectionsError as e:
        client.close()
        why = "; ".join(sorted({getattr(err, "strerror", None) or str(err) for err in e.errors.values()}))
        raise TargetUnreachable(f"{name}: cannot connect: {why}") from e
    except (OSError, *_NETWORK_ERRORS) as e:
        client.close()
        raise TargetUnreachable(f"{name}: cannot connect: {e or type(e).__name__}") from e
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(max(1, int(settings.keepalive.total_seconds())))
    return SshConnection(
        client, name=name, io_timeout=settings.io_timeout.total_seconds(), interrupt=interrupt
    )


def connect_ssh(
    settings: SshTargetSettings, *, interrupt: threading.Event | None = None
) -> list[SshConnection]:
    """Connections to every host, in the configured order; if any fails, none stay open."""
    with ThreadPoolExecutor(max_workers=min(16, len(settings.hosts))) as pool:
        futures = [pool.submit(connect_host, settings, a, interrupt=interrupt) for a in settings.hosts]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        for f in futures:
            if f.exception() is None:
                f.result().close()
        # A permanent problem outranks a host that is merely down: it is what the user must fix.
        raise next((e for e in errors if not getattr(e, "retryable", True)), errors[0])
    return [f.result() for f in futures]


def _sha256_records(output: str) -> dict[str, str]:
    """NUL-separated `<sha256>  ./<path>` records (`sha256sum -z`), keyed by path."""
    digests: dict[str, str] = {}
    for record in output.split("\0"):
        digest, sep, rel = record.partition("  ")
        if sep and re.fullmatch(r"[0-9a-f]{64}", digest):
            digests[rel.removeprefix("./")] = digest
    return digests
