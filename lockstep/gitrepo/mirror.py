"""`GitMirrors`: bare mirrors of application repositories, kept under one cache folder.

Owns talking to remotes (clone once, then only fetch), resolving refs to commits, commit metadata
and handing out `GitTree`s over single commits. Every repository kind (local path, file://,
http(s)) goes through a mirror, so a later push to the source is seen only after a fetch and a
deployment always reads from a stable local object database.

Clone and fetch hold a per-mirror lock (a thread lock plus `flock` on `<mirror>.lock`) so
workers in many threads and processes can share one cache folder; reads take no lock because
git only ever adds objects and swaps refs atomically. Concurrent `sync` calls for one mirror
coalesce: a caller that waited for someone else's fetch which started after its own request
does not fetch again.

It does not parse manifests, cache rendered content or keep GitPython objects between calls
(they are not thread-safe): every public call opens its own `git.Repo`, except `root_file`,
the webhook's hot path, which asks one long-lived `cat-file` process per mirror. Credentials never
reach a command line (`credentials.remote` hands them to git through its environment) and error
messages never contain them: user info is stripped from every URL that is printed or stored.
Ref names are checked (and bounded, `lockstep.domain.limits`) before git sees them.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import git

from lockstep.domain.errors import GitError
from lockstep.domain.limits import REF_COMPONENT_MAX_BYTES, REF_MAX_BYTES, file_too_large
from lockstep.domain.models import CommitInfo
from lockstep.domain.redaction import redact, safe_url
from lockstep.domain.source import SourceTree
from lockstep.gitrepo.credentials import Remote, remote
from lockstep.gitrepo.objects import ObjectReader, ObjectTooLarge, TreeEntry
from lockstep.gitrepo.tree import GitTree

_FETCH_MARKER = "lockstep-last-fetch"  # start time of the last successful clone/fetch
_HEX = re.compile(r"[0-9a-fA-F]{4,64}")
_FORBIDDEN_IN_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")

# Never prompt for credentials, and give up on a connection that stalls for a minute.
_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_HTTP_LOW_SPEED_LIMIT": "1",
    "GIT_HTTP_LOW_SPEED_TIME": "60",
}

_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


class GitMirrors:
    """Bare mirrors of remote repositories under `cache_dir`, one per repository URL."""

    def __init__(self, cache_dir: Path, *, network_timeout: float = 600.0) -> None:
        self.cache_dir = Path(cache_dir)
        self.network_timeout = network_timeout
        self._readers: dict[Path, ObjectReader] = {}
        self._readers_guard = threading.Lock()

    # -- mirrors ---------------------------------------------------------------------------------

    def mirror_path(self, url: str) -> Path:
        """Where the mirror of `url` lives: `<sanitised-basename>-<sha256(url)[:12]>.git`.

        The hash is taken over the URL without credentials, so rotating a token keeps the mirror.
        """
        source = self._source(url)
        key = safe_url(source)
        base = re.sub(r"\.git$", "", key.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-") or "repo"
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        return self.cache_dir / f"{base[:60]}-{digest}.git"

    def sync(self, url: str) -> Path:
        """Clone `url` into its mirror the first time, fetch every ref afterwards; the mirror path."""
        requested = time.time()
        mirror = self.mirror_path(url)
        with self._locked(mirror):
            if _is_mirror(mirror):
                if _last_fetch(mirror) < requested:
                    self._fetch(url, mirror)
            else:
                self._clone(url, mirror)
        return mirror

    def resolve(self, url: str, ref: str, *, fetch: bool = True) -> str:
        """The full sha `ref` (branch, tag, `refs/...`, full or abbreviated sha) names.

        A commit id already present in the mirror is answered without fetching.
        """
        self._check_ref(url, ref)
        mirror = self.mirror_path(url)
        if _HEX.fullmatch(ref) and _is_mirror(mirror) and not _is_ref_name(mirror, ref):
            sha = _rev_parse(mirror, ref)
            if sha is not None:
                return sha
        if fetch or not _is_mirror(mirror):
            self.sync(url)
        for candidate in _candidates(ref):
            sha = _rev_parse(mirror, candidate)
            if sha is not None:
                return sha
        raise self._unknown(url, ref)

    def branch_head(self, url: str, branch: str, *, fetch: bool = True) -> str:
        """The sha the branch points at in the remote (after a fetch unless `fetch=False`)."""
        self._check_ref(url, branch)
        mirror = self.sync(url) if fetch else self._ensure(url)
        sha = _rev_parse(mirror, f"refs/heads/{branch}")
        if sha is None:
            raise GitError(f"unknown branch: no branch '{branch}' in {safe_url(url)}", retryable=False)
        return sha

    def default_branch(self, url: str) -> str:
        """The branch the remote's HEAD points at, asked of the remote (the mirror's HEAD is kept
        in step, since fetch does not move it)."""
        mirror = self.mirror_path(url)
        if not _is_mirror(mirror):
            self.sync(url)  # a fresh clone takes over the remote's HEAD
        else:
            output = self._network(["ls-remote", "--symref", "{url}", "HEAD"], url, "ls-remote")
            match = re.search(r"^ref: refs/heads/(\S+)\tHEAD$", output, re.M)
            if match:
                with self._locked(mirror), git.Repo(mirror) as repo:
                    repo.git.symbolic_ref("HEAD", f"refs/heads/{match.group(1)}")
        with git.Repo(mirror) as repo:
            head = repo.git.symbolic_ref("--short", "HEAD")
        return str(head)

    # -- commits ---------------------------------------------------------------------------------

    def commit_info(self, url: str, sha: str) -> CommitInfo:
        """Author, email, message and author date (ISO 8601 with offset) of commit `sha`."""
        mirror, full = self._commit(url, sha)
        with git.Repo(mirror) as repo:
            return _info(repo.commit(full))

    def commits_between(self, url: str, old: str | None, new: str) -> list[CommitInfo]:
        """Commits reachable from `new` and not from `old`, newest first; `[new]` when old is None.

        When `old` is unknown to the remote too (history rewritten and collected), only `new` is
        returned: the range can no longer be computed and `new` is still the head being deployed.
        """
        mirror, new_sha = self._commit(url, new)
        old_sha = self._find_commit(url, old) if old is not None else None
        with git.Repo(mirror) as repo:
            if old_sha is None:
                return [_info(repo.commit(new_sha))]
            return [_info(c) for c in repo.iter_commits(f"{old_sha}..{new_sha}")]

    def change_authors(
        self, url: str, old: str | None, new: str, *, limit: int
    ) -> tuple[list[tuple[str, str, str]], bool]:
        """(sha, author email, committer email) of every commit `new` brings over `old`, newest
        first and at most `limit` of them, and whether there were more.

        Without `old` (a first deployment), or when `old` is no longer known (history rewritten),
        that is every commit reachable from `new`. `new` itself is always included, even when it
        is an ancestor of `old` (going back to an earlier commit).
        """
        mirror, new_sha = self._commit(url, new)
        old_sha = self._find_commit(url, old) if old is not None else None
        revisions = [new_sha] if old_sha is None else [new_sha, f"^{old_sha}"]
        with git.Repo(mirror) as repo:
            raw = str(repo.git.rev_list(f"--max-count={limit + 1}", "--format=%H%x00%ae%x00%ce", *revisions))
            head = str(repo.git.log("-1", "--format=%H%x00%ae%x00%ce", new_sha))
        rows = [line.split("\0") for line in raw.splitlines() if "\0" in line]
        commits = [(sha, author, committer) for sha, author, committer in rows]
        truncated = len(commits) > limit
        commits = commits[:limit]
        if all(sha != new_sha for sha, _, _ in commits):
            sha, author, committer = head.split("\0")
            commits.insert(0, (sha, author, committer))
        return commits, truncated

    def newest(self, url: str, shas: Sequence[str]) -> str:
        """Of `shas`, the one every other is an ancestor of; the last given when none is (the
        commits diverged, e.g. after a force-push), so arrival order breaks the tie.

        A commit the repository no longer has (force-pushed away) is left out: it cannot deploy,
        and must not stop the lane from choosing among the others. When none is known, the last
        given is the answer (its deployment then fails with the reason)."""
        mirror = self._ensure(url)
        reader = self._reader(mirror)
        full = [found for found in (self._known_commit(reader, url, sha) for sha in shas) if found]
        if not full:
            return shas[-1]
        if len(set(full)) == 1:
            return full[-1]
        # One process for the whole batch: the commits no other given commit reaches.
        with git.Repo(mirror) as repo:
            heads = str(repo.git.merge_base("--independent", *dict.fromkeys(full))).split()
        return heads[0] if len(heads) == 1 else full[-1]

    def root_file(self, url: str, sha: str, name: str, *, max_bytes: int | None = None) -> bytes:
        """The file `name` at the root of commit `sha` (a full sha), fetching once when the mirror
        lacks the commit; FileNotFoundError if the commit has no such file, and a ManifestError
        naming it, before its content is read, if it is larger than `max_bytes`."""
        self._check_ref(url, sha)
        mirror = self._ensure(url)
        reader = self._reader(mirror)
        try:
            entry = reader.tree_entry(sha, name)
        except LookupError:
            self.sync(url)
            entry = self._entry_after_fetch(reader, url, sha, name)
        if entry is None:
            raise FileNotFoundError(name)
        if not entry.is_blob or entry.is_symlink:  # rare: let GitTree follow it (or refuse it)
            tree = GitTree(mirror, sha)
            try:
                size = tree.size(name)
                if max_bytes is not None and size > max_bytes:
                    raise file_too_large(name, size, max_bytes, name)
                return tree.read(name)
            finally:
                tree.close()
        try:
            blob = reader.blob(entry.sha, max_bytes=max_bytes)
        except ObjectTooLarge as err:
            assert max_bytes is not None  # only a bounded read is refused
            raise file_too_large(name, err.size, max_bytes, name) from None
        if blob is None:
            raise self._unknown(url, sha)
        return blob

    def _entry_after_fetch(self, reader: ObjectReader, url: str, sha: str, name: str) -> TreeEntry | None:
        # The running process finds what the fetch brought (git rescans packs on a miss); a
        # fresh one is tried too, in case the mirror was cloned again under it.
        for attempt in (1, 2):
            try:
                return reader.tree_entry(sha, name)
            except LookupError:
                if attempt == 2:
                    raise self._unknown(url, sha) from None
                reader.close()
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the long-lived readers `root_file` started."""
        with self._readers_guard:
            readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            reader.close()

    def tree(self, url: str, sha: str) -> SourceTree:
        """The files of commit `sha`, read from the object database without a checkout."""
        mirror, full = self._commit(url, sha)
        return GitTree(mirror, full)

    # -- internals -------------------------------------------------------------------------------

    def _source(self, url: str) -> str:
        """Where the repository is: URLs as they are, local paths made absolute."""
        if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
            return url
        return str(Path(url).expanduser().resolve())

    def _remote(self, url: str) -> Remote:
        """What git is given: the source without credentials, which go into its environment."""
        try:
            return remote(self._source(url))
        except ValueError as err:
            raise GitError(f"{safe_url(url)}: {err}", retryable=False) from None

    def _reader(self, mirror: Path) -> ObjectReader:
        with self._readers_guard:
            return self._readers.setdefault(mirror, ObjectReader(mirror))

    def _ensure(self, url: str) -> Path:
        mirror = self.mirror_path(url)
        return mirror if _is_mirror(mirror) else self.sync(url)

    def _known_commit(self, reader: ObjectReader, url: str, sha: str) -> str | None:
        """The full sha of `sha`, or None when the repository does not have that commit."""
        if _is_full_commit(reader, sha):
            return sha
        self._check_ref(url, sha)
        return self._find_commit(url, sha)

    def _commit(self, url: str, sha: str) -> tuple[Path, str]:
        """The mirror and full sha of a commit, or a non-retryable GitError."""
        self._check_ref(url, sha)
        full = self._find_commit(url, sha)
        if full is None:
            raise self._unknown(url, sha)
        return self.mirror_path(url), full

    def _find_commit(self, url: str, sha: str) -> str | None:
        """The full sha of commit id `sha`, fetching once when this mirror does not have it yet
        (another worker may have resolved it against a fresher mirror of its own)."""
        if not _HEX.fullmatch(sha):
            return None
        mirror = self._ensure(url)
        full = _rev_parse(mirror, sha)
        if full is None:
            self.sync(url)
            full = _rev_parse(mirror, sha)
        return full

    def _clone(self, url: str, mirror: Path) -> None:
        started = time.time()
        if mirror.exists():  # a broken leftover, e.g. from a disk that filled up
            shutil.rmtree(mirror)
        partial = mirror.with_name(f".{mirror.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            self._network(["clone", "--mirror", "--quiet", "{url}", str(partial)], url, "clone")
            with git.Repo(partial) as repo:
                # The stored remote never carries credentials; each fetch hands them over again.
                repo.git.remote("set-url", "origin", safe_url(self._source(url)))
            _mark_fetched(partial, started)
            partial.rename(mirror)
        finally:
            if partial.exists():
                shutil.rmtree(partial, ignore_errors=True)

    def _fetch(self, url: str, mirror: Path) -> None:
        started = time.time()
        args = ["fetch", "--quiet", "--prune", "--force", "{url}", "+refs/*:refs/*"]
        self._network(args, url, "fetch", cwd=mirror)
        _mark_fetched(mirror, started)

    def _network(self, args: list[str], url: str, action: str, cwd: Path | None = None) -> str:
        """Run a git command that talks to the remote (`{url}` in `args` stands for it);
        failures are retryable GitErrors."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        target = self._remote(url)
        command = ["git", *(target.url if a == "{url}" else a for a in args)]
        try:
            output = git.Git(str(cwd or self.cache_dir)).execute(
                command, env={**_GIT_ENV, **target.env}, kill_after_timeout=self.network_timeout
            )
        except git.GitCommandError as e:
            raise GitError(
                f"git {action} of {safe_url(url)} failed: {_stderr(e)}", retryable=True
            ) from None  # the original carries the command line, credentials included
        except OSError as e:
            raise GitError(
                f"git {action} of {safe_url(url)} failed: {redact(str(e))}", retryable=True
            ) from None
        return output if isinstance(output, str) else ""

    def _check_ref(self, url: str, ref: str) -> None:
        """Refuse, before git sees it, what cannot be a ref name or commit id (git's own rules,
        plus the length bounds of `lockstep.domain.limits`)."""
        try:
            size = len(ref.encode())
        except UnicodeEncodeError:  # e.g. undecodable bytes from a command line (surrogateescape)
            raise GitError(f"invalid ref '{_shown(ref)}': not UTF-8 text", retryable=False) from None
        longest = max(len(p.encode()) for p in ref.split("/"))
        if size > REF_MAX_BYTES or longest > REF_COMPONENT_MAX_BYTES:
            raise GitError(
                f"invalid ref '{_shown(ref)}': a ref name is at most {REF_MAX_BYTES} bytes, "
                f"{REF_COMPONENT_MAX_BYTES} between slashes (this one: {size}, {longest})",
                retryable=False,
            )
        if not ref or ref.startswith("-") or _FORBIDDEN_IN_REF.search(ref) or ref.endswith((".lock", "/")):
            raise self._unknown(url, ref)

    def _unknown(self, url: str, ref: str) -> GitError:
        return GitError(
            f"unknown revision: no branch, tag or commit '{_shown(ref)}' in {safe_url(url)}",
            retryable=False,
        )

    @contextmanager
    def _locked(self, mirror: Path) -> Iterator[None]:
        with _thread_locks_guard:
            thread_lock = _thread_locks.setdefault(mirror, threading.Lock())
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with thread_lock, open(mirror.with_name(mirror.name + ".lock"), "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _shown(ref: str) -> str:
    """A ref as an error message shows it: at most 80 characters, never a line break."""
    text = ref.encode("unicode_escape").decode("ascii") if not ref.isprintable() else ref
    return text if len(text) <= 80 else text[:77] + "..."


def _candidates(ref: str) -> list[str]:
    if ref.startswith("refs/") or ref == "HEAD":
        return [ref]
    # A branch wins over a tag of the same name, and both over a commit id that looks alike.
    names = [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    return [*names, ref] if _HEX.fullmatch(ref) else names


def _is_ref_name(mirror: Path, name: str) -> bool:
    return any(_rev_parse(mirror, c) is not None for c in _candidates(name)[:2])


def _is_full_commit(reader: ObjectReader, sha: str) -> bool:
    """Whether `sha` is a full commit id present in the reader's repository (no process start)."""
    if len(sha) != 40 or not _HEX.fullmatch(sha):
        return False
    found = reader.read(sha.lower())
    return found is not None and found.kind == "commit"


def _rev_parse(mirror: Path, name: str) -> str | None:
    """The commit `name` peels to in `mirror`, or None (absent, ambiguous or not a commit)."""
    with git.Repo(mirror) as repo:
        try:
            sha = repo.git.rev_parse("--verify", "--quiet", f"{name}^{{commit}}")
        except git.GitCommandError:
            return None
    return str(sha).strip() or None


def _info(commit: git.Commit) -> CommitInfo:
    message = commit.message
    return CommitInfo(
        sha=commit.hexsha,
        author=str(commit.author.name or ""),
        author_email=str(commit.author.email or ""),
        committer_email=str(commit.committer.email or ""),
        message=message if isinstance(message, str) else message.decode("utf-8", "replace"),
        timestamp=commit.authored_datetime.isoformat(),
    )


def _is_mirror(mirror: Path) -> bool:
    return (mirror / "HEAD").is_file() and (mirror / "objects").is_dir()


def _last_fetch(mirror: Path) -> float:
    try:
        return float((mirror / _FETCH_MARKER).read_text())
    except (OSError, ValueError):
        return 0.0


def _mark_fetched(mirror: Path, started: float) -> None:
    (mirror / _FETCH_MARKER).write_text(repr(started))


def _stderr(error: git.GitCommandError) -> str:
    text = str(error.stderr or "")
    match = re.search(r"stderr: '(.*)'", text, re.S)
    return redact((match.group(1) if match else text).strip()) or f"exit status {error.status}"
