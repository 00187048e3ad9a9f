"""`GitMirrors.root_file` (the webhook's hot path, one long-lived `cat-file` per mirror) and `newest`."""

from __future__ import annotations

import subprocess

import pytest

from lockstep.domain.errors import GitError
from lockstep.domain.source import PathOutsideRepository
from lockstep.gitrepo import GitMirrors

from .conftest import SourceRepo


def test_reads_the_file_as_of_each_commit(source: SourceRepo, mirrors: GitMirrors) -> None:
    first = source.commit({"lockstep.yaml": "application: one\n", "sub/lockstep.yaml": "nested"})
    second = source.commit({"lockstep.yaml": "application: two\n"})
    mirrors.resolve(source.url, "main")
    try:
        assert mirrors.root_file(source.url, first, "lockstep.yaml") == b"application: one\n"
        assert mirrors.root_file(source.url, second, "lockstep.yaml") == b"application: two\n"
        assert mirrors.root_file(source.url, first, "lockstep.yaml") == b"application: one\n"
    finally:
        mirrors.close()


def test_a_commit_pushed_after_the_reader_started_is_fetched(source: SourceRepo, mirrors: GitMirrors) -> None:
    first = source.commit({"lockstep.yaml": "v: 1\n"})
    try:
        assert mirrors.root_file(source.url, first, "lockstep.yaml") == b"v: 1\n"  # clones, starts reading
        later = source.commit({"lockstep.yaml": "v: 2\n"})  # not in the mirror yet
        assert mirrors.root_file(source.url, later, "lockstep.yaml") == b"v: 2\n"
    finally:
        mirrors.close()


def test_absent_file_unknown_commit_and_symlinks(source: SourceRepo, mirrors: GitMirrors) -> None:
    plain = source.commit({"README": "no manifest here"})
    linked = source.commit(
        {"deploy/real.yaml": "application: linked\n"}, symlinks={"lockstep.yaml": "deploy/real.yaml"}
    )
    outside = source.commit({}, symlinks={"lockstep.yaml": "../../etc/passwd"})
    try:
        with pytest.raises(FileNotFoundError):
            mirrors.root_file(source.url, plain, "lockstep.yaml")
        with pytest.raises(GitError, match="unknown revision") as err:
            mirrors.root_file(source.url, "0" * 40, "lockstep.yaml")
        assert not err.value.retryable
        assert mirrors.root_file(source.url, linked, "lockstep.yaml") == b"application: linked\n"
        with pytest.raises(PathOutsideRepository):
            mirrors.root_file(source.url, outside, "lockstep.yaml")
    finally:
        mirrors.close()


def test_a_tree_or_blob_named_as_the_commit_is_an_unknown_commit(
    source: SourceRepo, mirrors: GitMirrors
) -> None:
    sha = source.commit({"lockstep.yaml": "v: 1\n"})
    tree, blob = (
        subprocess.run(
            ["git", "-C", str(source.path), "rev-parse", name], check=True, capture_output=True, text=True
        ).stdout.strip()
        for name in (f"{sha}^{{tree}}", f"{sha}:lockstep.yaml")
    )
    try:
        assert mirrors.root_file(source.url, sha, "lockstep.yaml") == b"v: 1\n"
        for not_a_commit in (tree, blob):
            with pytest.raises(GitError, match="unknown revision"):
                mirrors.root_file(source.url, not_a_commit, "lockstep.yaml")
    finally:
        mirrors.close()


def test_a_killed_reader_is_started_again(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"lockstep.yaml": "v: 1\n"})
    try:
        assert mirrors.root_file(source.url, sha, "lockstep.yaml") == b"v: 1\n"
        for reader in mirrors._readers.values():
            assert reader._process is not None
            reader._process.kill()
            reader._process.wait()
        assert mirrors.root_file(source.url, sha, "lockstep.yaml") == b"v: 1\n"
    finally:
        mirrors.close()


def test_newest_is_the_descendant_of_the_others_whatever_the_order(
    source: SourceRepo, mirrors: GitMirrors
) -> None:
    chain = [source.commit({"a.txt": str(i)}) for i in range(5)]
    shuffled = [chain[3], chain[0], chain[4], chain[1], chain[2]]
    assert mirrors.newest(source.url, shuffled) == chain[4]
    assert mirrors.newest(source.url, [chain[2], chain[2]]) == chain[2]
    source.repo.git.checkout("-q", "-b", "side", chain[1])
    side = source.commit({"b.txt": "diverged"})
    # Diverged (a force-push, say): no commit descends from all others; the last given wins.
    assert mirrors.newest(source.url, [chain[4], side]) == side
    assert mirrors.newest(source.url, [side, chain[4]]) == chain[4]
    assert mirrors.newest(source.url, [chain[0], side, chain[1]]) == side
