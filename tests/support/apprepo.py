"""Real Git repositories of test applications, and their lockstep.yaml."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

AUTHOR = ["-c", "user.name=Test Author", "-c", "user.email=author@example.com"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *AUTHOR, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repo: Path, files: Mapping[str, str | None], message: str) -> str:
    """Write (or delete, for None) files, commit them all, return the new sha."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def three_tier_manifest(*, counters: Path, api_deploy_extra: str = "", health_timeout: str = "3s") -> str:
    """db -> api -> web on the `local-test` target; each deploy appends to a counter file."""
    return f"""\
application: shop
environments:
  - name: staging
    branch: main
    targets: {{site: local-test}}
    values: {{greeting: "hello staging"}}
components:
  - name: db
    target: site
    host:
      files: [{{src: db/, dest: /srv/db}}]
      deploy: ["echo $LOCKSTEP_COMMIT >> {counters}/db"]
    health: {{commands: ["test -f schema.sql"], timeout: {health_timeout}, interval: 200ms}}
  - name: api
    target: site
    depends_on: [db]
    host:
      files: [{{src: api/, dest: /srv/api}}]
      deploy: ["echo $LOCKSTEP_COMMIT >> {counters}/api{api_deploy_extra}"]
    health: {{commands: ["grep -q version api.conf"], timeout: {health_timeout}, interval: 200ms}}
  - name: web
    target: site
    depends_on: [api]
    host:
      files: [{{src: web/, dest: /srv/web}}]
      deploy: ["echo $LOCKSTEP_COMMIT >> {counters}/web"]
    health: {{commands: ["sh ./health.sh"], timeout: {health_timeout}, interval: 200ms}}
"""


def three_tier_files(counters: Path, **manifest_options: str) -> dict[str, str | None]:
    return {
        "lockstep.yaml": three_tier_manifest(counters=counters, **manifest_options),
        "db/schema.sql": "CREATE TABLE t (id int);\n",
        "api/api.conf": "version=1\n",
        "web/index.html": "<h1>{{ greeting }}</h1>\n",
        "web/health.sh": "grep -q '<h1>' index.html\n",
    }
