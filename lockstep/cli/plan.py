"""`lockstep plan <repo>`: render a commit and show what would deploy where, and why. Deploys nothing."""

from __future__ import annotations

import typer

from lockstep.cli.common import OutputFormat, OutputOption, console, handles_errors, print_json, settings
from lockstep.cli.output import print_plan
from lockstep.delivery.rendering import CommitRenderer
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.manifest.loader import environment as manifest_environment
from lockstep.manifest.loader import load_manifest
from lockstep.planning.plan import make_plan
from lockstep.settings import Settings
from lockstep.store.engine import Store
from lockstep.store.revisions import last_revisions
from lockstep.targets.registry import TargetRegistry


def _repository_url(s: Settings, repo: str) -> str:
    """A configured repository's name or URL, else the path or URL as given."""
    for configured in s.repositories:
        if repo in (configured.name, configured.url):
            return configured.url
    return repo


def plan(
    repo: str = typer.Argument(..., help="repository: a configured name, a URL or a local path"),
    ref: str = typer.Option("HEAD", "--ref", help="branch, tag or commit to plan"),
    env: str | None = typer.Option(None, "--env", "-e", help="one environment (default: all)"),
    output: OutputFormat = OutputOption,
) -> None:
    """Preview a commit: validate its lockstep.yaml, render it and plan each environment."""
    _plan(repo, ref, env, output)


@handles_errors
def _plan(repo: str, ref: str, env: str | None, output: OutputFormat) -> None:
    s = settings()
    url = _repository_url(s, repo)
    renderer = CommitRenderer(GitMirrors(s.mirrors_dir), TargetRegistry(s.targets).types())
    sha = renderer.resolve(url, ref)
    store = Store.from_url(s.database_url)
    manifest = load_manifest(renderer.tree(url, sha))
    names = [manifest_environment(manifest, env).name] if env else [e.name for e in manifest.environments]
    results = []
    for name in names:
        rendered = renderer.render(url, sha, name)
        with store.session() as session:
            live = last_revisions(session=session, application=manifest.application, environment=name)
        results.append((name, rendered, make_plan(list(rendered.components.values()), live)))
    if output == OutputFormat.json:
        print_json(
            [
                {
                    "application": manifest.application,
                    "environment": name,
                    "commit": rendered.commit.model_dump(),
                    "plan": p.model_dump(mode="json"),
                }
                for name, rendered, p in results
            ]
        )
        return
    for name, rendered, p in results:
        console.print(
            f"[bold]{manifest.application}/{name}[/] at {rendered.commit.sha[:12]} "
            f"({rendered.commit.message.splitlines()[0] if rendered.commit.message else ''})",
            highlight=False,
        )
        print_plan(p, title=f"plan for {name}")
