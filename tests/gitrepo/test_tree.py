"""GitTree: reading commits from the object database, symlinks, folders, concurrent readers."""

from __future__ import annotations

import threading

import pytest

from lockstep.domain.source import PathOutsideRepository, SourceTree
from lockstep.gitrepo import GitMirrors, GitTree

from .conftest import SourceRepo


def test_reads_files_and_folders(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit(
        {"lockstep.yaml": "application: shop\n", "web/index.html": "<h1>", "web/css/site.css": "b{}"}
    )
    tree: SourceTree = mirrors.tree(source.url, sha)

    assert tree.read("lockstep.yaml") == b"application: shop\n"
    assert tree.read("/web/index.html") == b"<h1>"
    assert tree.is_file("web/index.html") and not tree.is_dir("web/index.html")
    assert tree.is_dir("web") and tree.is_dir("web/css") and tree.is_dir("") and not tree.is_file("web")
    assert not tree.is_file("absent") and not tree.is_dir("absent")
    assert tree.walk("web") == ["web/css/site.css", "web/index.html"]
    assert tree.walk("") == ["lockstep.yaml", "web/css/site.css", "web/index.html"]
    assert tree.walk("absent") == []
    with pytest.raises(FileNotFoundError):
        tree.read("absent.txt")
    with pytest.raises(FileNotFoundError):
        tree.read("web")
    with pytest.raises(FileNotFoundError):
        tree.read("lockstep.yaml/x")


def test_each_commit_keeps_its_own_content(source: SourceRepo, mirrors: GitMirrors) -> None:
    old = source.commit({"app.txt": "old", "gone.txt": "x"})
    new = source.commit({"app.txt": "new", "gone.txt": None, "added.txt": "y"})

    assert mirrors.tree(source.url, old).walk("") == ["app.txt", "gone.txt"]
    assert mirrors.tree(source.url, new).walk("") == ["added.txt", "app.txt"]
    assert not (mirrors.mirror_path(source.url) / "app.txt").exists()  # nothing checked out


def test_reading_two_commits_concurrently(source: SourceRepo, mirrors: GitMirrors) -> None:
    shas = {
        source.commit({"app.txt": f"content of {n}\n" * 200, f"only-{n}.txt": n}): n
        for n in ("one", "two", "three")
    }
    mismatches: list[str] = []
    shared = {sha: mirrors.tree(source.url, sha) for sha in shas}
    barrier = threading.Barrier(len(shas) * 2)

    def read(sha: str, own_tree: bool) -> None:
        name = shas[sha]
        barrier.wait()
        for _ in range(50):
            tree = mirrors.tree(source.url, sha) if own_tree else shared[sha]
            if tree.read("app.txt") != f"content of {name}\n".encode() * 200:
                mismatches.append(f"{name}: app.txt")
            if tree.read(f"only-{name}.txt") != name.encode():
                mismatches.append(f"{name}: only-{name}.txt")

    threads = [threading.Thread(target=read, args=(sha, own)) for sha in shas for own in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert mismatches == []


def test_symlinks_inside_the_repository_are_followed(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit(
        {"shared/config.ini": "x=1", "web/index.html": "<h1>"},
        symlinks={
            "web/config.ini": "../shared/config.ini",
            "web/shared": "../shared",
            "web/self": ".",
            "current": "web",
            "chain": "current/config.ini",
        },
    )
    tree = mirrors.tree(source.url, sha)

    assert tree.read("web/config.ini") == b"x=1"
    assert tree.read("web/shared/config.ini") == b"x=1"
    assert tree.read("chain") == b"x=1"
    assert tree.read("current/index.html") == b"<h1>"
    assert tree.read("web/self/self/index.html") == b"<h1>"
    assert tree.is_file("chain") and tree.is_dir("current") and tree.is_dir("web/shared")
    assert tree.walk("shared") == ["shared/config.ini"]


def test_walk_expands_symlinked_folders_under_their_own_name(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit(
        {"shared/a.txt": "a", "shared/sub/b.txt": "b", "site/index.html": "i"},
        symlinks={"site/shared": "../shared", "site/a-link.txt": "../shared/a.txt"},
    )
    tree = mirrors.tree(source.url, sha)

    assert tree.walk("site") == [
        "site/a-link.txt",
        "site/index.html",
        "site/shared/a.txt",
        "site/shared/sub/b.txt",
    ]
    assert all(tree.is_file(p) for p in tree.walk("site"))


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "../.."])
def test_symlink_escaping_the_repository_raises(source: SourceRepo, mirrors: GitMirrors, target: str) -> None:
    sha = source.commit({"web/index.html": "<h1>"}, symlinks={"web/escape": target})
    tree = mirrors.tree(source.url, sha)

    with pytest.raises(PathOutsideRepository):
        tree.read("web/escape")
    with pytest.raises(PathOutsideRepository):
        tree.is_file("web/escape")
    with pytest.raises(PathOutsideRepository):
        tree.walk("web")


def test_paths_escaping_the_repository_raise(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"web/index.html": "<h1>"})
    tree = mirrors.tree(source.url, sha)

    assert tree.read("web/../web/./index.html") == b"<h1>"
    for path in ("../secret", "web/../../secret"):
        with pytest.raises(PathOutsideRepository):
            tree.read(path)
        with pytest.raises(PathOutsideRepository):
            tree.walk(path)


def test_dangling_and_looping_symlinks(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"web/index.html": "<h1>"}, symlinks={"web/dangling": "nothing", "a": "b", "b": "a"})
    tree = mirrors.tree(source.url, sha)

    with pytest.raises(FileNotFoundError):
        tree.read("web/dangling")
    assert not tree.is_file("web/dangling")
    with pytest.raises(FileNotFoundError):
        tree.walk("web")
    with pytest.raises(PathOutsideRepository, match="too many levels"):
        tree.read("a")


def test_tree_is_a_closable_context_manager(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"a.txt": "a"})
    with GitTree(mirrors.sync(source.url), sha) as tree:
        assert tree.read("a.txt") == b"a"
        assert tree.sha == sha
