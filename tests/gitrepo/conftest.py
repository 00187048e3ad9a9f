"""Real temporary Git repositories for the Git adapter tests, built with GitPython."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import git
import pytest

from lockstep.gitrepo import GitMirrors

ALICE = git.Actor("Alice Example", "alice@example.com")


class SourceRepo:
    """A non-bare repository on branch `main` that tests commit to, as a developer would push."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = git.Repo.init(path, initial_branch="main")

    @property
    def url(self) -> str:
        return str(self.path)

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        *,
        message: str = "change",
        author: git.Actor = ALICE,
        date: str | None = None,
        symlinks: Mapping[str, str] | None = None,
    ) -> str:
        """Write `files` (None deletes), create `symlinks` (path -> target), commit; the new sha."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        for name, link_target in (symlinks or {}).items():
            link = self.path / name
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink():
                link.unlink()
            os.symlink(link_target, link)
        self.repo.git.add("--all")
        commit = self.repo.index.commit(
            message, author=author, committer=author, author_date=date, commit_date=date
        )
        return commit.hexsha


@pytest.fixture
def make_repo(tmp_path: Path) -> Iterator[Callable[[str], SourceRepo]]:
    made: list[SourceRepo] = []

    def make(name: str = "shop") -> SourceRepo:
        source = SourceRepo(tmp_path / "sources" / name)
        made.append(source)
        return source

    yield make
    for source in made:
        source.repo.close()


@pytest.fixture
def source(make_repo: Callable[[str], SourceRepo]) -> SourceRepo:
    return make_repo("shop")


@pytest.fixture
def mirrors(tmp_path: Path) -> GitMirrors:
    return GitMirrors(tmp_path / "mirrors")
