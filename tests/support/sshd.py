"""A fleet of real Debian `sshd` instances on loopback ports, for the ssh target's tests and bench.

Each host gets a throwaway ed25519 host key, its own port and its own files: a "holder" process
(`unshare -m`, then `sleep`) owns a private mount namespace with a tmpfs over `fleet.root`, and the
host's sshd is started inside that namespace with `nsenter`. So every host sees a different
`fleet.root` although all run on this machine, and killing a host's sshd (and every process it
started) keeps its files for a restart, as a rebooted VM keeps its disk. One throwaway user key
logs in as the current user; `fleet.known_hosts` lists every host key.

Needs root (for the mount namespaces), `/usr/sbin/sshd` (Debian's openssh-server, installed by
`scripts/system-deps.sh`), `unshare`, `nsenter` and `ssh-keygen`; `require_sshd()` skips the
test with the reason when one is missing.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lockstep.settings import SshTargetSettings

SSHD = "/usr/sbin/sshd"


def missing_tools() -> str | None:
    """Why a fleet cannot run here, or None."""
    if not os.path.exists(SSHD):
        return f"{SSHD} is missing (install openssh-server: scripts/system-deps.sh)"
    for tool in ("unshare", "nsenter", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if os.geteuid() != 0:
        return "a fleet of sshd hosts needs root (one mount namespace per host)"
    return None


def require_sshd() -> None:
    reason = missing_tools()
    if reason:
        pytest.skip(f"real sshd fleet unavailable: {reason}")


@dataclass
class SshHost:
    index: int
    port: int
    config: Path
    host_key: Path
    holder: subprocess.Popen[bytes]
    sshd: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class SshFleet:
    workdir: Path
    root: Path  # the folder every host sees as its own tmpfs
    user: str
    key_file: Path
    known_hosts: Path
    hosts: list[SshHost] = field(default_factory=list)

    def target(self, **overrides: object) -> SshTargetSettings:
        values: dict[str, object] = {
            "type": "ssh",
            "hosts": [h.address for h in self.hosts],
            "user": self.user,
            "key_file": str(self.key_file),
            "known_hosts": str(self.known_hosts),
            "connect_timeout": "3s",
            "keepalive": "2s",
            "io_timeout": "10s",
        }
        return SshTargetSettings.model_validate(values | overrides)

    def sh(self, index: int, script: str, *, check: bool = True) -> str:
        """Run `script` in host `index`'s file view (without ssh, so it works while sshd is down)."""
        proc = subprocess.run(
            ["nsenter", "-t", str(self.hosts[index].holder.pid), "-m", "--", "/bin/sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"host {index}: {script!r} exited {proc.returncode}: {proc.stderr}")
        return proc.stdout

    def readlink(self, index: int, path: str) -> str | None:
        out = self.sh(index, f"readlink '{path}' || true").strip()
        return out or None

    def read(self, index: int, path: str) -> str | None:
        return self.sh(index, f"cat '{path}' 2>/dev/null || true") or None

    def kill(self, index: int) -> None:
        """SIGKILL the host's sshd and everything it started (sessions, commands); files stay."""
        host = self.hosts[index]
        for pid in _namespace_pids(host.holder.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if host.sshd is not None:
            host.sshd.wait(timeout=10)
            host.sshd = None

    def pause(self, index: int) -> None:
        """SIGSTOP the host's sshd and its sessions: a host that hangs. TCP connections are still
        accepted (by the kernel) but nothing answers, as with a wedged VM; `resume` ends it."""
        self._signal(index, signal.SIGSTOP)

    def resume(self, index: int) -> None:
        self._signal(index, signal.SIGCONT)

    def _signal(self, index: int, signum: signal.Signals) -> None:
        for pid in _namespace_pids(self.hosts[index].holder.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def start(self, index: int) -> None:
        host = self.hosts[index]
        host.sshd = subprocess.Popen(
            ["nsenter", "-t", str(host.holder.pid), "-m", "--", SSHD, "-D", "-e", "-f", str(host.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / f"sshd-{index}.log").open("ab"),
        )
        _wait_for_port(host.port, host.sshd)

    def close(self) -> None:
        for i, host in enumerate(self.hosts):
            self.kill(i)
            host.holder.kill()
            host.holder.wait(timeout=10)


FLEET_USER = "lockstep-fleet"


def _fleet_user() -> str:
    """`lockstep-fleet` (uid 0, shell /bin/sh; scripts/system-deps.sh makes it) when it exists:
    a login shell that is bash would source root's ~/.bashrc for every command."""
    try:
        entry = pwd.getpwnam(FLEET_USER)
    except KeyError:
        return getpass.getuser()
    return FLEET_USER if entry.pw_uid == os.geteuid() else getpass.getuser()


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd on port {port} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            if s.recv(4).startswith(b"SSH-"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"sshd on port {port} did not start listening")


def _namespace_pids(holder: int) -> list[int]:
    """Every process in `holder`'s mount namespace except the holder itself."""
    try:
        ns = os.readlink(f"/proc/{holder}/ns/mnt")
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != holder:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/ns/mnt") == ns:
                    pids.append(int(entry))
    return pids


_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
AuthorizedKeysFile {authorized_keys}
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 100
LogLevel ERROR
Subsystem sftp internal-sftp
"""


@contextlib.contextmanager
def running_fleet(workdir: Path, count: int = 3) -> Iterator[SshFleet]:
    """Start `count` sshd hosts under `workdir`; stop them all (files and all) on exit."""
    require_sshd()
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "hostfs"
    root.mkdir(exist_ok=True)
    key = workdir / "user_key"
    _keygen(key)
    authorized = workdir / "authorized_keys"
    shutil.copy(f"{key}.pub", authorized)
    fleet = SshFleet(workdir, root, _fleet_user(), key, workdir / "known_hosts")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation directory
    try:
        for i in range(count):
            host_key = workdir / f"host_key_{i}"
            _keygen(host_key)
            port = _free_port()
            config = workdir / f"sshd_config_{i}"
            config.write_text(_CONFIG.format(port=port, host_key=host_key, authorized_keys=authorized))
            holder = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "sh", "-c",
                 f"mount -t tmpfs none '{root}' && exec sleep infinity"],
            )  # fmt: skip
            fleet.hosts.append(SshHost(i, port, config, host_key, holder))
            _wait_for_mount(holder, root)
            fleet.start(i)
        entries = []
        for h in fleet.hosts:
            kind, blob = Path(f"{h.host_key}.pub").read_text().split()[:2]
            entries.append(f"[127.0.0.1]:{h.port} {kind} {blob}\n")
        fleet.known_hosts.write_text("".join(entries))
        yield fleet
    finally:
        fleet.close()


def _wait_for_mount(holder: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if holder.poll() is not None:
            pytest.skip(f"cannot create a mount namespace with a tmpfs (unshare exited {holder.returncode})")
        probe = subprocess.run(
            ["nsenter", "-t", str(holder.pid), "-m", "--", "findmnt", "-n", str(root)], capture_output=True
        )
        if probe.returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the tmpfs over {root} never appeared")
