"""Fuzzing ref handling against a real repository: any string given as a ref, branch or commit
resolves to a full sha or raises GitError; never OSError, ValueError or a git usage error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from lockstep.domain.errors import GitError
from lockstep.gitrepo import GitMirrors
from tests.fuzz.budget import fuzz
from tests.support.apprepo import commit, git

FULL_SHA = re.compile(r"[0-9a-f]{40}")
PIECES = st.sampled_from(
    ["main", "v1", "refs/heads/main", "refs/tags/v1", "HEAD", "-", "--", "..", ".", "/", "@{", "@", "~", "^",
     ":", "?", "*", "[", "\\", ".lock", " ", "\t", "\n", "\x00", "\x7f", "é", "\ud800", "\udcff", "{", "}",
     "a" * 300, "f" * 40, "0" * 4, "--upload-pack=touch /tmp/x", "refs/", "ma", "in"]
)  # fmt: skip
REFS = st.one_of(
    st.lists(PIECES, max_size=6).map("".join),
    st.text(max_size=30),
    st.integers(1, 3000).map(lambda n: "x" * n),
    st.from_regex(r"[0-9a-fA-F]{1,70}", fullmatch=True),
    st.integers(1, 41).map(lambda n: f"<head:{n}>"),  # that many characters of the head's sha
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GitMirrors, str, str]]:
    """(mirrors with the repository already cloned, its URL, its head)."""
    tmp = tmp_path_factory.mktemp("ref-fuzz")
    source = tmp / "app"
    head = commit(source, {"a.txt": "1"}, "first")
    git(source, "tag", "v1")
    mirrors = GitMirrors(Path(tmp / "mirrors"))
    mirrors.sync(str(source))
    yield mirrors, str(source), head
    mirrors.close()


@fuzz(max_examples=150)
@given(REFS)
def test_any_ref_resolves_or_is_a_git_error(repo: tuple[GitMirrors, str, str], ref: str) -> None:
    mirrors, url, head = repo
    if ref.startswith("<head:"):
        ref = head[: int(ref[6:-1])]
    for name, call in (
        ("resolve", lambda: mirrors.resolve(url, ref, fetch=False)),
        ("branch_head", lambda: mirrors.branch_head(url, ref, fetch=False)),
        ("root_file", lambda: mirrors.root_file(url, ref, "a.txt", max_bytes=10)),
    ):
        try:
            answer = call()
        except GitError as err:
            event(f"{name}: GitError")
            assert len(str(err)) < 500, "the ref is shown cut short"
            continue
        except FileNotFoundError:
            continue  # root_file of a commit without the file
        event(f"{name}: answered")
        assert answer == b"1" if name == "root_file" else FULL_SHA.fullmatch(str(answer)), (name, answer)


def test_the_fuzzed_repository_answers(repo: tuple[GitMirrors, str, str]) -> None:
    mirrors, url, head = repo
    assert mirrors.resolve(url, "v1", fetch=False) == head == mirrors.branch_head(url, "main", fetch=False)
