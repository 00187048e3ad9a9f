"""Ansible for the benchmarks that compare with it: finding `ansible-playbook`, installing
ansible-core into a virtualenv of its own when it is nowhere, and an inventory of a test fleet.

`ansible_playbook()` looks at $ANSIBLE_PLAYBOOK, next to this Python, on PATH, then in the
benchmarks' own virtualenv (`$XDG_CACHE_HOME/lockstep-bench/ansible`, default `~/.cache/...`).
With `install=True` it creates that virtualenv (`python -m venv`, `pip install ansible-core`)
when nothing was found; Ansible never goes into Lockstep's own environment. Either way it says
why there is none instead of raising, so a benchmark can still print its own figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.sshd import SshFleet


@dataclass(frozen=True)
class Found:
    """`ansible-playbook`'s path, or why there is none."""

    binary: str | None
    why_not: str = ""


def cache_venv() -> Path:
    """The benchmarks' own virtualenv for ansible-core."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "lockstep-bench" / "ansible"


def ansible_playbook(*, install: bool = False) -> Found:
    """Where `ansible-playbook` is; with `install`, ansible-core is installed into
    `cache_venv()` when it is nowhere else (module docstring)."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    in_cache = cache_venv() / "bin" / "ansible-playbook"
    for candidate in (
        os.environ.get("ANSIBLE_PLAYBOOK"),
        str(beside) if beside.exists() else None,
        shutil.which("ansible-playbook"),
        str(in_cache) if in_cache.exists() else None,
    ):
        if candidate:
            return Found(candidate)
    if not install:
        return Found(None, "ansible-playbook not found (pip install ansible-core, or set ANSIBLE_PLAYBOOK)")
    venv = cache_venv()
    steps = (
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "ansible-core"],
    )
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return Found(None, f"could not install ansible-core into {venv}: {' | '.join(tail)}")
    if not in_cache.exists():
        return Found(None, f"pip installed ansible-core into {venv} but {in_cache} is missing")
    return Found(str(in_cache))


def inventory(fleet: SshFleet, hosts: int, path: Path) -> Path:
    """An inventory of the fleet's first `hosts` hosts (`h<index>`), group `fleet`, logging in
    as Lockstep does: the fleet's key, its known_hosts, strict host key checking."""
    path.write_text(
        "[fleet]\n"
        + "".join(f"h{h.index} ansible_host=127.0.0.1 ansible_port={h.port}\n" for h in fleet.hosts[:hosts])
        + "[fleet:vars]\n"
        f"ansible_user={fleet.user}\nansible_ssh_private_key_file={fleet.key_file}\n"
        f"ansible_ssh_common_args='-o UserKnownHostsFile={fleet.known_hosts} -o StrictHostKeyChecking=yes'\n"
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    return path


def environment(forks: int) -> dict[str, str]:
    """The process environment for a run: forks = hosts, pipelining on, host keys checked."""
    return os.environ | {
        "ANSIBLE_FORKS": str(forks),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
    }
