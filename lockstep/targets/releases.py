"""Releases on a host, written once over any `HostConnection` (local today, ssh next).

Layout under a component's `dest`:

    <dest>/releases/<release>/...            the files of one release (release = commit sha)
    <dest>/releases/<release>/.lockstep-release   marker holding the content hash, written last
    <dest>/releases/.staging-<release>/      a release being uploaded; renamed into place when whole
    <dest>/releases/.lockstep-history        release names, oldest first, one per line (for pruning)
    <dest>/current -> releases/<release>     relative symlink, switched atomically

Every function converges rather than applies a delta, so a retried activity is harmless: staging
skips a release already complete and resumes an interrupted upload, switching to the release
already current changes nothing. File modes follow one simple rule: content starting with `#!`
is written 0o755, everything else 0o644.

This module owns no connection and does no I/O of its own; it does not decide which hosts or
batches to deploy to, nor record steps (that is `lockstep.delivery.host`).
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from lockstep.domain.errors import DeploymentStepFailed, HealthCheckFailed
from lockstep.domain.models import HealthSpec
from lockstep.targets.host import CommandResult, HostConnection

MARKER = ".lockstep-release"
HISTORY = ".lockstep-history"
STAGING_PREFIX = ".staging-"


def release_dir(dest: str, release: str) -> str:
    return f"{_base(dest)}/releases/{release}"


def current_link(dest: str) -> str:
    return f"{_base(dest)}/current"


def current_release(conn: HostConnection, dest: str) -> str | None:
    """The release `current` points at (relative or absolute link target), None without a link."""
    target = conn.readlink(current_link(dest))
    if target is None:
        return None
    return posixpath.basename(target.rstrip("/")) or None


def stage_release(
    conn: HostConnection, *, dest: str, release: str, files: Mapping[str, bytes], content_hash: str
) -> bool:
    """Put `files` in `<dest>/releases/<release>`; False if that release is already complete.

    Uploads go to `.staging-<release>` first, which carries the marker as "staging <hash>" from
    its start: a retry with the same hash resumes (files whose sha256 already matches are not
    sent again), a different or unknown staging dir is wiped. The final marker is written last,
    then the staging dir replaces any stale final dir.
    """
    _check_release(release)
    paths = {_check_file_path(rel): data for rel, data in files.items()}
    final = release_dir(dest, release)
    final_marker = f"{content_hash}\n".encode()
    if conn.file_sha256(f"{final}/{MARKER}") == _sha256(final_marker):
        return False

    if current_release(conn, dest) == release and conn.exists(f"{final}/{MARKER}"):
        # A live release holding other content: replacing it would pull files from under the
        # running service and leave nothing to roll back to.
        raise DeploymentStepFailed(
            f"{conn.name}: release {release} is live in {dest} with different content; refusing to "
            "replace it (is another component or environment delivering to the same dest?)"
        )
    staging = f"{_base(dest)}/releases/{STAGING_PREFIX}{release}"
    staging_marker = f"staging {content_hash}\n".encode()
    state = conn.file_sha256(f"{staging}/{MARKER}")
    if state != _sha256(final_marker):  # staging complete already: only the rename is left
        if state != _sha256(staging_marker):
            conn.remove(staging)
            conn.ensure_dir(staging)
            conn.write_file(f"{staging}/{MARKER}", staging_marker)
        made = {staging}
        for rel, data in sorted(paths.items()):
            path = f"{staging}/{rel}"
            parent = posixpath.dirname(path)
            if parent not in made:
                conn.ensure_dir(parent)
                made.add(parent)
            if conn.file_sha256(path) != _sha256(data):
                conn.write_file(path, data, mode=file_mode(data))
        conn.write_file(f"{staging}/{MARKER}", final_marker)
    conn.remove(final)  # a stale, incomplete or superseded copy that is not live
    conn.rename(staging, final)
    return True


def file_mode(data: bytes) -> int:
    """0o755 for scripts (content starting with `#!`), else 0o644."""
    return 0o755 if data.startswith(b"#!") else 0o644


def remember_release(conn: HostConnection, dest: str, release: str) -> None:
    """Record `release` as the newest in `.lockstep-history` (moved to the end if listed)."""
    _check_release(release)
    history = _read_history(conn, dest)
    if history and history[-1] == release:
        return
    _write_history(conn, dest, [r for r in history if r != release] + [release])


def switch_current(conn: HostConnection, dest: str, release: str) -> str | None:
    """Point `current` at `releases/<release>` atomically; return the release it pointed at before.

    Returns `release` itself when it is already current. Refuses (DeploymentStepFailed) to point
    at a release that is not completely staged, so `current` never leads to a missing folder.
    """
    _check_release(release)
    previous = current_release(conn, dest)
    if previous == release:
        return release
    if not conn.exists(f"{release_dir(dest, release)}/{MARKER}"):
        raise DeploymentStepFailed(f"{conn.name}: release {release} is not staged in {dest}/releases")
    conn.replace_symlink(current_link(dest), f"releases/{release}")
    return previous


def rollback_release(conn: HostConnection, *, dest: str, previous: str | None) -> bool:
    """Put `current` back on `previous`, or remove it when the component was new (None).

    Returns whether anything changed, so a repeated rollback reports nothing to do.
    """
    if previous is None:
        if not conn.exists(current_link(dest)):
            return False
        conn.remove(current_link(dest))
        return True
    return switch_current(conn, dest, previous) != previous


def run_commands(
    conn: HostConnection,
    commands: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    timeout: float,
    max_output: int,
) -> list[CommandResult]:
    """Run `commands` in order; the first failure or timeout raises DeploymentStepFailed.

    The exception carries the results so far (the failing one last) as `results`; read them with
    `failed_results`.
    """
    results: list[CommandResult] = []
    for command in commands:
        result = conn.run(command, cwd=cwd, env=env, timeout=timeout, max_output=max_output)
        results.append(result)
        if not result.ok:
            raise _with_results(DeploymentStepFailed(describe_failure(conn, result)), results)
    return results


def verify_health(
    conn: HostConnection,
    health: HealthSpec,
    *,
    cwd: str | None,
    env: Mapping[str, str],
    command_timeout: float,
    max_output: int,
    heartbeat: Callable[[str], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[CommandResult]:
    """Run every health command until one attempt passes them all, or `timeout_seconds` is up.

    A failing attempt stops at its first failing command; the next attempt starts after
    `interval_seconds` (never sleeping past the deadline) and reruns the whole set. `heartbeat`
    is called between attempts, so an activity can report progress and receive cancellation
    there. Raises HealthCheckFailed naming the last failing command, with its output tail and
    the attempt's results as `results`.
    """
    if not health.commands:
        return []
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        results: list[CommandResult] = []
        for command in health.commands:
            result = conn.run(command, cwd=cwd, env=env, timeout=command_timeout, max_output=max_output)
            results.append(result)
            if not result.ok:
                break
        else:
            return results
        failed = results[-1]
        remaining = health.timeout_seconds - (clock() - started)
        if remaining <= 0:
            message = (
                f"health check did not pass within {health.timeout_seconds:g}s "
                f"({attempt} attempt{'s' if attempt != 1 else ''}); last failure: "
                + describe_failure(conn, failed)
            )
            raise _with_results(HealthCheckFailed(message), results)
        heartbeat(f"attempt {attempt} failed at {failed.command!r} ({_status(failed)}); retrying")
        sleep(min(health.interval_seconds, remaining))


def prune_releases(conn: HostConnection, dest: str, keep: int, protect: Iterable[str]) -> list[str]:
    """Remove all but the newest `keep` releases; never those in `protect` nor the current one.

    Age comes from `.lockstep-history`; releases on disk that it does not list count as older
    than every listed one (leftovers of a crash before `remember_release`). Returns removed names.
    """
    if keep < 0:
        raise ValueError(f"keep must be >= 0, not {keep}")
    root = f"{_base(dest)}/releases"
    on_disk = {n for n in conn.list_dir(root) if not n.startswith(".")}
    history = _read_history(conn, dest)
    listed = [r for r in history if r in on_disk]
    oldest_first = sorted(on_disk - set(listed)) + listed
    spared = set(oldest_first[max(0, len(oldest_first) - keep) :] if keep else [])
    spared |= set(protect)
    live = current_release(conn, dest)
    if live is not None:
        spared.add(live)
    removed = [r for r in oldest_first if r not in spared]
    for name in removed:
        conn.remove(f"{root}/{name}")
    remaining = [r for r in listed if r not in removed]
    if remaining != history:
        _write_history(conn, dest, remaining)
    return removed


def failed_results(err: BaseException) -> list[CommandResult]:
    """The command results attached to a failure raised by `run_commands` or `verify_health`."""
    results = getattr(err, "results", None)
    return list(results) if isinstance(results, list) else []


def describe_failure(conn: HostConnection, result: CommandResult) -> str:
    """`<host>: command 'x' exited with 3`. The output is deliberately not in the message: messages
    travel into Temporal's history and the deployment record, where a command's output (which may
    print secrets) does not belong; it is kept, tail only, in the step record."""
    return f"{conn.name}: command {result.command!r} {_status(result)}"


def _status(result: CommandResult) -> str:
    if result.timed_out:
        return f"timed out after {result.duration_seconds:.1f}s"
    return f"exited with {result.exit_code}"


def _with_results(err: DeploymentStepFailed, results: list[CommandResult]) -> DeploymentStepFailed:
    # Set as an attribute, not a subclass: the workflow matches failures by exact class name.
    err.results = results  # type: ignore[attr-defined]
    return err


def _read_history(conn: HostConnection, dest: str) -> list[str]:
    raw = conn.read_file(f"{_base(dest)}/releases/{HISTORY}") or b""
    return [line.strip() for line in raw.decode("utf-8", errors="replace").splitlines() if line.strip()]


def _write_history(conn: HostConnection, dest: str, releases: list[str]) -> None:
    path = f"{_base(dest)}/releases/{HISTORY}"
    conn.ensure_dir(posixpath.dirname(path))
    conn.write_file(f"{path}.tmp", "".join(f"{r}\n" for r in releases).encode())
    conn.rename(f"{path}.tmp", path)  # a crash never leaves a torn history


def _base(dest: str) -> str:
    return dest.rstrip("/")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_release(release: str) -> None:
    if not release or release.startswith(".") or "/" in release or "\n" in release:
        raise ValueError(f"invalid release name {release!r}: no '/', no leading '.', not empty")


def _check_file_path(rel: str) -> str:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or rel.startswith("/") or ".." in parts or parts == [MARKER]:
        raise ValueError(f"invalid release file path {rel!r}: must be relative, inside the release")
    return "/".join(parts)
