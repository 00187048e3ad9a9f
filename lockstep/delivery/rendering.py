"""Checking out and rendering one commit for one environment, with a small in-process cache.

Several activities of one deployment render the same commit; the cache keeps that to one Git read
and one render per (repository, commit, environment) per worker process. Rendering is
deterministic, so a cache miss on another worker gives the same result and content hashes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lockstep.domain.errors import ConfigError
from lockstep.domain.models import CommitInfo, RenderedComponent
from lockstep.domain.redaction import safe_url
from lockstep.domain.source import SourceTree
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.manifest.loader import load_manifest
from lockstep.manifest.render import render_environment
from lockstep.manifest.schema import Manifest


@dataclass(frozen=True)
class RenderedCommit:
    commit: CommitInfo
    manifest: Manifest
    components: dict[str, RenderedComponent]  # in manifest order


class CommitRenderer:
    def __init__(
        self,
        git: GitMirrors,
        target_types: Mapping[str, str],
        *,
        target_namespaces: Mapping[str, str] | None = None,
        repositories: Sequence[str] = (),
        configured_only: bool = False,
        cache_size: int = 16,
    ) -> None:
        self._git = git
        # Workflow inputs carry repository URLs without credentials (they land in Temporal's
        # history); the configured URL, credentials included, is looked up here, in the worker.
        self._configured = {safe_url(url): url for url in repositories}
        # The worker renders configured repositories only: a workflow started straight on
        # Temporal must not make it fetch and deploy from anywhere. `lockstep plan` may preview
        # any path or URL it is given.
        self._configured_only = configured_only
        self._target_types = dict(target_types)
        self._target_namespaces = dict(target_namespaces or {})
        self._cache: OrderedDict[tuple[str, str, str], RenderedCommit] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def git_url(self, repository: str) -> str:
        """The configured URL (with any credentials) for a URL as stored or shown."""
        configured = self._configured.get(repository)
        if configured is not None:
            return configured
        if self._configured_only:
            raise ConfigError(
                f"repository {safe_url(repository)} is not in the server configuration's repositories"
            )
        return repository

    def resolve(self, repository: str, ref: str) -> str:
        return self._git.resolve(self.git_url(repository), ref)

    def newest(self, repository: str, shas: Sequence[str]) -> str:
        return self._git.newest(self.git_url(repository), shas)

    def change_authors(
        self, repository: str, old: str | None, new: str, *, limit: int
    ) -> tuple[list[tuple[str, str, str]], bool]:
        return self._git.change_authors(self.git_url(repository), old, new, limit=limit)

    def tree(self, repository: str, sha: str) -> SourceTree:
        return self._git.tree(self.git_url(repository), sha)

    def render(self, repository: str, sha: str, environment: str) -> RenderedCommit:
        """Render `sha` (a full commit id) of `repository` for `environment`."""
        key = (repository, sha, environment)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        url = self.git_url(repository)
        tree = self._git.tree(url, sha)
        manifest = load_manifest(tree)
        components = render_environment(
            manifest,
            environment,
            tree,
            target_types=self._target_types,
            target_namespaces=self._target_namespaces,
        )
        rendered = RenderedCommit(
            commit=self._git.commit_info(url, sha),
            manifest=manifest,
            components={c.name: c for c in components},
        )
        with self._lock:
            self._cache[key] = rendered
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return rendered
