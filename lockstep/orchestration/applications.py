"""Finding which configured repository holds an application, by reading its lockstep.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from lockstep.domain.errors import ConfigError, GitError, LockstepError
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.manifest.loader import load_manifest
from lockstep.manifest.schema import Manifest
from lockstep.settings import Settings


@dataclass(frozen=True)
class ApplicationSource:
    repository: str
    manifest: Manifest


def find_application(settings: Settings, git: GitMirrors, application: str) -> ApplicationSource:
    """The repository whose default branch declares `application` in its lockstep.yaml."""
    seen: list[str] = []
    problems: list[str] = []
    for repo in settings.repositories:
        try:
            head = git.resolve(repo.url, git.default_branch(repo.url))
            manifest = load_manifest(git.tree(repo.url, head))
        except (GitError, LockstepError) as err:
            problems.append(f"{repo.name or repo.url}: {err}")
            continue
        if manifest.application == application:
            return ApplicationSource(repository=repo.url, manifest=manifest)
        seen.append(manifest.application)
    known = ", ".join(sorted(seen)) or "none"
    detail = f" ({'; '.join(problems)})" if problems else ""
    if not settings.repositories:  # most often: not the server's configuration at all
        detail = (
            "; this configuration has no repositories: is it the server's? (LOCKSTEP_CONFIG, or "
            "./lockstep-server.yaml or ./.lockstep/lockstep-server.yaml in the working folder)"
        )
    raise ConfigError(
        f"no configured repository declares application {application!r} (known: {known}){detail}"
    )
