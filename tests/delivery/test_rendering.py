"""CommitRenderer: credentials stay out of workflow inputs; the worker adds them back."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockstep.delivery.rendering import CommitRenderer
from lockstep.domain.errors import ConfigError, ManifestError
from lockstep.domain.models import CommitInfo
from lockstep.domain.redaction import safe_url
from lockstep.domain.source import MemorySourceTree, SourceTree
from lockstep.gitrepo.mirror import GitMirrors

CONFIGURED = "https://deploy:s3cret@git.example.com/acme/shop.git"
MANIFEST = """\
application: shop
environments: [{name: staging, targets: {site: local-dev}}]
components: [{name: web, target: site, host: {files: [{src: web/, dest: /srv/web}]}}]
"""


class RecordingGit(GitMirrors):
    """Answers from memory and remembers which URLs it was asked for."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent"))
        self.urls: list[str] = []

    def tree(self, url: str, sha: str) -> SourceTree:
        self.urls.append(url)
        return MemorySourceTree({"lockstep.yaml": MANIFEST, "web/index.html": "hi\n"})

    def commit_info(self, url: str, sha: str) -> CommitInfo:
        self.urls.append(url)
        return CommitInfo(
            sha=sha,
            author="a",
            author_email="a@example.com",
            message="m",
            timestamp="2026-11-22T10:00:00+00:00",
        )


def test_renders_with_the_configured_url_from_a_credential_free_one() -> None:
    shown = safe_url(CONFIGURED)
    assert "s3cret" not in shown and shown == "https://git.example.com/acme/shop.git"
    git = RecordingGit()
    renderer = CommitRenderer(git, {"local-dev": "local"}, repositories=[CONFIGURED])
    rendered = renderer.render(shown, "a" * 40, "staging")
    assert list(rendered.components) == ["web"]
    assert git.urls == [CONFIGURED, CONFIGURED]


def test_unconfigured_repositories_pass_through() -> None:
    git = RecordingGit()
    CommitRenderer(git, {"local-dev": "local"}).render("/srv/git/shop", "b" * 40, "staging")
    assert git.urls == ["/srv/git/shop", "/srv/git/shop"]


def test_the_worker_renders_configured_repositories_only() -> None:
    git = RecordingGit()
    renderer = CommitRenderer(git, {"local-dev": "local"}, repositories=[CONFIGURED], configured_only=True)
    with pytest.raises(ConfigError, match="not in the server configuration's repositories"):
        renderer.render("https://evil.example.com/shop.git", "b" * 40, "staging")
    assert git.urls == [], "nothing was fetched"
    assert list(renderer.render(safe_url(CONFIGURED), "a" * 40, "staging").components) == ["web"]


def test_the_worker_refuses_nested_dests_before_anything_is_delivered() -> None:
    # The first step of a deployment renders here; a ManifestError is permanent (PERMANENT_ERRORS).
    class NestedGit(RecordingGit):
        def tree(self, url: str, sha: str) -> SourceTree:
            manifest = MANIFEST.replace(
                "components: [",
                "components: [{name: data, target: site, "
                "host: {files: [{src: web/, dest: /srv/web/releases/data}]}}, ",
            )
            return MemorySourceTree({"lockstep.yaml": manifest, "web/index.html": "hi\n"})

    renderer = CommitRenderer(NestedGit(), {"local-dev": "local"}, repositories=[CONFIGURED])
    with pytest.raises(ManifestError, match="lies inside /srv/web, the dest of") as info:
        renderer.render(safe_url(CONFIGURED), "c" * 40, "staging")
    assert info.value.key == "components[0].host.files[0].dest"
