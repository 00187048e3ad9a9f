"""Read bounds of the Git adapter, over real repositories: file sizes known from the listing and
refused before the content is read, the per-render total, symlinks, and ref names."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from lockstep.domain.errors import GitError, ManifestError
from lockstep.domain.limits import MANIFEST_MAX_BYTES, REF_COMPONENT_MAX_BYTES, REF_MAX_BYTES
from lockstep.gitrepo import GitMirrors, GitTree
from lockstep.gitrepo.objects import ObjectReader, ObjectTooLarge
from lockstep.manifest import load_manifest, render_environment

from .conftest import SourceRepo

BIG = b"# padding\n" * (MANIFEST_MAX_BYTES // 10 + 1)  # just over 1 MiB


class _CountingPipe:
    """Stands in for a process's stdout and counts the bytes taken from it."""

    def __init__(self, pipe: Any) -> None:
        self.pipe, self.taken = pipe, 0

    def readline(self) -> bytes:
        line: bytes = self.pipe.readline()
        self.taken += len(line)
        return line

    def read(self, size: int) -> bytes:
        data: bytes = self.pipe.read(size)
        self.taken += len(data)
        return data


def test_an_oversized_lockstep_yaml_is_refused_at_the_header_and_the_reader_stays_usable(
    source: SourceRepo, mirrors: GitMirrors
) -> None:
    big = source.commit({"lockstep.yaml": BIG})
    small = source.commit({"lockstep.yaml": "application: shop\n"})
    mirrors.resolve(source.url, "main")
    reader = mirrors._reader(mirrors.mirror_path(source.url))
    try:
        assert mirrors.root_file(source.url, small, "lockstep.yaml") == b"application: shop\n"
        process = reader._process
        assert process is not None
        counting = _CountingPipe(process.stdout)
        process.stdout = counting  # type: ignore[assignment]
        with pytest.raises(ManifestError) as info:
            mirrors.root_file(source.url, big, "lockstep.yaml", max_bytes=MANIFEST_MAX_BYTES)
        assert info.value.file == "lockstep.yaml"
        assert "is larger than the 1 MiB lockstep.yaml may have" in info.value.message
        assert counting.taken < 4096  # headers only: the megabyte never left git
        # The same process answers the next question, in step.
        assert mirrors.root_file(source.url, small, "lockstep.yaml", max_bytes=100) == b"application: shop\n"
        assert reader._process is process
    finally:
        mirrors.close()


def test_object_reader_refuses_by_size_and_reads_within_it(source: SourceRepo, mirrors: GitMirrors) -> None:
    source.commit({"a.txt": "12345"})
    mirror = mirrors.sync(source.url)
    blob = subprocess.run(
        ["git", "-C", str(mirror), "rev-parse", "main:a.txt"], capture_output=True, text=True, check=True
    ).stdout.strip()
    reader = ObjectReader(mirror)
    try:
        with pytest.raises(ObjectTooLarge) as info:
            reader.blob(blob, max_bytes=4)
        assert info.value.size == 5
        assert reader.blob(blob, max_bytes=5) == b"12345"
        with pytest.raises(ObjectTooLarge):  # a kept copy is bounded the same way
            reader.blob(blob, max_bytes=4)
        assert reader.blob(blob) == b"12345"
    finally:
        reader.close()


def test_a_symlinked_oversized_lockstep_yaml_is_refused_too(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"deploy/real.yaml": BIG}, symlinks={"lockstep.yaml": "deploy/real.yaml"})
    try:
        with pytest.raises(ManifestError, match="larger than the 1 MiB"):
            mirrors.root_file(source.url, sha, "lockstep.yaml", max_bytes=MANIFEST_MAX_BYTES)
    finally:
        mirrors.close()


def test_load_manifest_from_git_refuses_the_size_before_reading(
    source: SourceRepo, mirrors: GitMirrors
) -> None:
    sha = source.commit({"lockstep.yaml": BIG})
    tree = mirrors.tree(source.url, sha)
    assert tree.size("lockstep.yaml") == len(BIG)
    with pytest.raises(ManifestError) as info:
        load_manifest(tree)
    assert "larger than the 1 MiB lockstep.yaml may have" in info.value.message


def test_tree_bounds_one_file_and_everything_read(source: SourceRepo, mirrors: GitMirrors) -> None:
    sha = source.commit({"a.txt": "a" * 600, "b.txt": "b" * 600, "big.bin": b"\0" * 2000})
    mirror = mirrors.sync(source.url)
    with GitTree(mirror, sha, max_file_bytes=1000, max_read_bytes=1500) as tree:
        with pytest.raises(ManifestError) as info:
            tree.read("big.bin")
        assert info.value.file == "big.bin"
        assert info.value.message == "2.0 KiB is larger than the 1,000 bytes a file may have"
        assert tree.size("big.bin") == 2000  # the size stays known without reading
        assert tree.read("a.txt") == b"a" * 600
        assert tree.read("b.txt") == b"b" * 600
        with pytest.raises(ManifestError, match=r"past 1\.5 KiB read from one commit"):
            tree.read("a.txt")


def test_a_symlink_blob_too_long_to_be_a_path_is_refused(source: SourceRepo, mirrors: GitMirrors) -> None:
    source.commit({"real.txt": "x"})
    blob = subprocess.run(
        ["git", "-C", str(source.path), "hash-object", "-w", "--stdin"],
        input="a/" * 4000,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    source.repo.git.update_index("--add", "--cacheinfo", f"120000,{blob},link")
    source.repo.git.commit("-m", "a symlink whose target is 8,000 bytes")
    sha = source.repo.head.commit.hexsha
    tree = mirrors.tree(source.url, sha)
    with pytest.raises(ManifestError, match="symlink's target"):
        tree.read("link")


MANIFEST = """\
application: shop
environments:
  - {name: staging, branch: main, targets: {site: local-test}}
components:
  - {name: web, target: site, host: {files: [{src: web/, dest: /srv/web}]}}
"""


def test_a_dangling_symlink_in_a_src_folder_names_the_file_and_key(
    source: SourceRepo, mirrors: GitMirrors
) -> None:
    sha = source.commit(
        {"lockstep.yaml": MANIFEST, "web/index.html": "hi"}, symlinks={"web/gone.css": "nowhere.css"}
    )
    tree = mirrors.tree(source.url, sha)
    with pytest.raises(ManifestError) as info:
        render_environment(load_manifest(tree), "staging", tree, target_types={"local-test": "local"})
    assert (info.value.file, info.value.key) == ("lockstep.yaml", "components[0].host.files[0].src")
    assert "web/gone.css: symlink points to nothing" in info.value.message


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("x" * 200_000, "at most 1024 bytes"),
        ("a/" + "b" * (REF_COMPONENT_MAX_BYTES + 1), "255 between slashes"),
        ("é" * (REF_MAX_BYTES // 2 + 1), "at most 1024 bytes"),  # bytes, not characters
        ("main\udcff", "not UTF-8 text"),  # an undecodable byte from a command line
    ],
)
def test_refs_past_gits_bounds_are_refused_before_git_sees_them(
    source: SourceRepo, mirrors: GitMirrors, ref: str, why: str
) -> None:
    source.commit({"a.txt": "1"})
    for call in (mirrors.resolve, mirrors.branch_head):
        with pytest.raises(GitError, match=why) as info:
            call(source.url, ref)
        assert not info.value.retryable
        assert len(str(info.value)) < 400  # the ref is shown cut short
    assert not mirrors.mirror_path(source.url).exists()  # refused before any clone


def test_a_ref_at_the_bounds_is_looked_up(source: SourceRepo, mirrors: GitMirrors) -> None:
    source.commit({"a.txt": "1"})
    ref = "/".join(["c" * REF_COMPONENT_MAX_BYTES] * 4)  # 1,023 bytes
    with pytest.raises(GitError, match="unknown revision"):
        mirrors.resolve(source.url, ref)
