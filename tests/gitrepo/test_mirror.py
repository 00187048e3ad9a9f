"""GitMirrors against real repositories: local paths, file:// URLs, a dumb-HTTP server, no network."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import git
import pytest

from lockstep.domain.errors import GitError
from lockstep.gitrepo import GitMirrors, redact, safe_url

from .conftest import SourceRepo


def test_local_path_is_mirrored_and_resolved(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"lockstep.yaml": "application: shop\n"}, message="first\n\nbody")

    assert mirrors.resolve(source.url, "main") == sha
    mirror = mirrors.mirror_path(source.url)
    assert mirror.parent == mirrors.cache_dir
    assert mirror.name.startswith("shop-") and mirror.name.endswith(".git")
    assert git.Repo(mirror).bare


def test_file_url_is_mirrored_and_resolved(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"a.txt": "a"})
    url = source.path.as_uri()

    assert url.startswith("file://")
    assert mirrors.resolve(url, "main") == sha
    assert mirrors.tree(url, sha).read("a.txt") == b"a"


def test_resolves_tags_refs_and_abbreviated_shas(source: SourceRepo, mirrors: GitMirrors) -> None:
    first = source.commit({"a.txt": "1"})
    source.repo.create_tag("v1.0", message="annotated release")  # annotated: peeled to the commit
    second = source.commit({"a.txt": "2"})
    source.repo.create_tag("light")

    assert mirrors.resolve(source.url, "v1.0") == first
    assert mirrors.resolve(source.url, "light") == second
    assert mirrors.resolve(source.url, "refs/heads/main") == second
    assert mirrors.resolve(source.url, "refs/tags/v1.0") == first
    assert mirrors.resolve(source.url, first) == first
    assert mirrors.resolve(source.url, first[:8]) == first
    assert mirrors.resolve(source.url, "HEAD") == second


def test_commit_info(source: SourceRepo, mirrors: GitMirrors) -> None:
    bob = git.Actor("Bob Builder", "bob@example.com")
    sha = source.commit(
        {"a.txt": "a"},
        message="Add a\n\nLonger body.\n",
        author=bob,
        date=f"{int(datetime.fromisoformat('2026-03-01T10:20:30+02:00').timestamp())} +0200",
    )

    info = mirrors.commit_info(source.url, sha)

    assert info.sha == sha
    assert info.author == "Bob Builder"
    assert info.author_email == "bob@example.com"
    assert info.message == "Add a\n\nLonger body.\n"
    assert info.timestamp == "2026-03-01T10:20:30+02:00"


def test_new_commit_found_after_fetch_without_recloning(source: SourceRepo, mirrors: GitMirrors) -> None:
    first = source.commit({"a.txt": "1"})
    mirror = mirrors.sync(source.url)
    inode = mirror.stat().st_ino
    (mirror / "survives-fetch").write_text("marker")

    second = source.commit({"a.txt": "2"})

    assert mirrors.resolve(source.url, "main", fetch=False) == first
    assert mirrors.resolve(source.url, "main") == second
    assert mirrors.sync(source.url) == mirror
    assert mirror.stat().st_ino == inode
    assert (mirror / "survives-fetch").read_text() == "marker"
    assert mirrors.tree(source.url, second).read("a.txt") == b"2"


def test_present_commit_is_resolved_without_fetching(
    source: SourceRepo, mirrors: GitMirrors, tmp_path: Path
) -> None:
    sha = source.commit({"a.txt": "1"})
    mirrors.sync(source.url)
    shutil.move(source.path, tmp_path / "gone")  # any fetch would now fail

    assert mirrors.resolve(source.url, sha) == sha
    assert mirrors.resolve(source.url, sha[:10]) == sha
    assert mirrors.resolve(source.url, "main", fetch=False) == sha
    with pytest.raises(GitError) as caught:
        mirrors.resolve(source.url, "main")
    assert caught.value.retryable


def test_commit_missing_from_a_stale_mirror_is_fetched_once(source: SourceRepo, mirrors: GitMirrors) -> None:
    source.commit({"a.txt": "1"})
    mirrors.sync(source.url)
    newer = source.commit({"a.txt": "2"})  # resolved elsewhere, e.g. by another worker

    assert mirrors.commit_info(source.url, newer).sha == newer
    assert mirrors.tree(source.url, newer).read("a.txt") == b"2"


@pytest.mark.parametrize(
    "ref", ["nope", "v9", "deadbeefdeadbeef", "refs/heads/nope", "--upload-pack=x", "a..b"]
)
def test_unknown_ref_is_not_retryable(source: SourceRepo, mirrors: GitMirrors, ref: str) -> None:
    source.commit({"a.txt": "1"})

    with pytest.raises(GitError) as caught:
        mirrors.resolve(source.url, ref)

    assert not caught.value.retryable
    assert f"no branch, tag or commit '{ref}' in {source.url}" in str(caught.value)


def test_unknown_commit_for_tree_and_info_is_not_retryable(source: SourceRepo, mirrors: GitMirrors) -> None:
    source.commit({"a.txt": "1"})
    for call in (mirrors.tree, mirrors.commit_info):
        with pytest.raises(GitError) as caught:
            call(source.url, "0" * 40)
        assert not caught.value.retryable


def test_branch_head_and_default_branch(source: SourceRepo, mirrors: GitMirrors) -> None:
    main = source.commit({"a.txt": "1"})
    source.repo.git.checkout("-b", "trunk")
    trunk = source.commit({"a.txt": "2"})

    assert mirrors.branch_head(source.url, "main") == main
    assert mirrors.branch_head(source.url, "trunk") == trunk
    assert mirrors.default_branch(source.url) == "trunk"  # HEAD of the source when first cloned

    source.repo.git.checkout("main")
    assert mirrors.default_branch(source.url) == "main"  # followed later, though fetch does not
    with pytest.raises(GitError) as caught:
        mirrors.branch_head(source.url, "nope")
    assert not caught.value.retryable


def test_commits_between(source: SourceRepo, mirrors: GitMirrors) -> None:
    c1 = source.commit({"a.txt": "1"}, message="one")
    c2 = source.commit({"a.txt": "2"}, message="two")
    c3 = source.commit({"a.txt": "3"}, message="three")

    assert [c.sha for c in mirrors.commits_between(source.url, c1, c3)] == [c3, c2]
    assert [c.message for c in mirrors.commits_between(source.url, c1, c3)] == ["three", "two"]
    assert [c.sha for c in mirrors.commits_between(source.url, None, c3)] == [c3]
    assert mirrors.commits_between(source.url, c3, c3) == []
    assert [c.sha for c in mirrors.commits_between(source.url, "f" * 40, c2)] == [c2]  # old unknown


@pytest.mark.timeout(30)
def test_unreachable_http_remote_is_retryable_without_credentials(mirrors: GitMirrors) -> None:
    url = "http://deploy:s3cret-token@127.0.0.1:9/x.git"

    with pytest.raises(GitError) as caught:
        mirrors.resolve(url, "main")

    assert caught.value.retryable
    assert "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "http://127.0.0.1:9/x.git" in str(caught.value)
    assert not list(mirrors.cache_dir.glob("*.git"))  # no half-made mirror left behind


def test_missing_local_repository_is_a_retryable_error(mirrors: GitMirrors, tmp_path: Path) -> None:
    with pytest.raises(GitError) as caught:
        mirrors.sync(str(tmp_path / "absent"))
    assert caught.value.retryable


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static file server: git clones and fetches from it with the dumb HTTP protocol."""
    root = tmp_path / "http"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_remote_with_credentials(
    source: SourceRepo, mirrors: GitMirrors, http_root: tuple[Path, str]
) -> None:
    root, base = http_root
    first = source.commit({"a.txt": "1"})
    bare = git.Repo.clone_from(source.url, root / "shop.git", bare=True)
    bare.git.update_server_info()
    url = base.replace("http://", "http://deploy:s3cret-token@") + "/shop.git"

    assert mirrors.resolve(url, "main") == first
    second = source.commit({"a.txt": "2"})
    source.repo.git.push(str(root / "shop.git"), "main")
    bare.git.update_server_info()

    assert mirrors.resolve(url, "main") == second
    assert mirrors.tree(url, second).read("a.txt") == b"2"
    mirror = mirrors.mirror_path(url)
    assert mirror == mirrors.mirror_path(base + "/shop.git")  # same mirror whatever the token
    assert "s3cret" not in (mirror / "config").read_text()
    assert "s3cret" not in (mirror / "FETCH_HEAD").read_text()


def test_threads_syncing_at_once_share_one_mirror(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"a.txt": "1"})
    results: list[str] = []
    errors: list[BaseException] = []

    def resolve() -> None:
        try:
            results.append(mirrors.resolve(source.url, "main"))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    assert results == [sha] * 8
    assert [p.name for p in mirrors.cache_dir.glob("*.git")] == [mirrors.mirror_path(source.url).name]


def test_processes_syncing_at_once_share_one_mirror(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"a.txt": "1"})
    script = (
        "import sys; from pathlib import Path; from lockstep.gitrepo import GitMirrors;"
        "print(GitMirrors(Path(sys.argv[1])).resolve(sys.argv[2], 'main'))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(mirrors.cache_dir), source.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0] * 4, outputs
    assert [out.strip() for out, _ in outputs] == [sha] * 4
    assert len(list(mirrors.cache_dir.glob("*.git"))) == 1


def test_redaction() -> None:
    assert safe_url("https://user:pw@git.example.com/a/b.git") == "https://git.example.com/a/b.git"
    assert safe_url("https://token@git.example.com/a.git") == "https://git.example.com/a.git"
    assert safe_url("/srv/git/shop") == "/srv/git/shop"
    assert (
        redact("fatal: unable to access 'https://u:p@h/x.git/'")
        == "fatal: unable to access 'https://h/x.git/'"
    )
