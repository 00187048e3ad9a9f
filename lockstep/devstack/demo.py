"""The demo that `lockstep dev` seeds on first start: a server config and an application repo.

The demo application `shop` has three `host` components (db -> api -> web) deployed as releases
onto two `local` targets, one per environment, under `.lockstep/targets/`. Production takes only
commits that succeeded in staging, behind two approvals from the `release-managers` group.
Three demo users get random API tokens (0600 files under `.lockstep/tokens/`): alice and bob
are release managers; `demo` is a release manager too, but wrote the demo's commits, so its
approval is refused. The config and the webhook secret are 0600 too, the state and tokens
folders 0700, tightened on every start where an older version left them looser. A `cluster`
binding to unreachable Kubernetes targets exists only so a `kubernetes` component can be
planned (and denied by policy) in the demo. The repository carries the manifest's JSON Schema
beside `lockstep.yaml`, named by the file's first line, so an editor with yaml-language-server
completes and checks it as soon as the demo is opened (docs/editor-setup.md). The policy
bundle is a copy of the shipped one in `.lockstep/policies/`, to edit (say, to let the drift
sweep remediate staging).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from lockstep.security.private_files import private_dir, tighten, write_private
from lockstep.settings import DEFAULT_POLICY_BUNDLE

# A relative schema path works in any checkout, offline; the file is written from the Lockstep
# that seeds the demo (`lockstep schema manifest`), so it describes the manifests this one reads.
DEMO_SCHEMA_FILE = "lockstep.schema.json"
DEMO_MANIFEST = (
    f"# yaml-language-server: $schema=./{DEMO_SCHEMA_FILE}\n"
    + """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {site: local-staging, cluster: k8s-staging}
    values: {greeting: "Hello from staging", workers: "1"}
  - name: production
    branch: main
    promote_from: staging
    targets: {site: local-production, cluster: k8s-production}
    approvals: {required: 2, groups: [release-managers], timeout: 24h}
    values: {greeting: "Hello from production", workers: "3"}
components:
  - name: db
    target: site
    host:
      files: [{src: db/, dest: /srv/shop/db}]
      deploy: ["sh ./migrate.sh"]
    health: {commands: ["test -s migrated.txt"], timeout: 10s, interval: 1s}
  - name: api
    target: site
    depends_on: [db]
    host:
      files: [{src: api/, dest: /srv/shop/api}]
      deploy: ["sh ./start.sh"]
    health: {commands: ["grep -q '^ok' status"], timeout: 10s, interval: 1s}
  - name: web
    target: site
    depends_on: [api]
    host:
      files: [{src: web/, dest: /srv/shop/web}]
      deploy: ["cp index.html served.html"]
    health: {commands: ["sh ./healthcheck.sh"], timeout: 10s, interval: 1s}
"""
)

DEMO_FILES = {
    "lockstep.yaml": DEMO_MANIFEST,
    "db/schema.sql": "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT);\n",
    "db/migrate.sh": "#!/bin/sh\n# A stand-in for a schema migration.\nwc -l < schema.sql > migrated.txt\n",
    "api/config.env": "WORKERS={{ workers }}\n",
    "api/start.sh": "#!/bin/sh\n# A stand-in for restarting a service.\n"
    'echo "ok $(cat config.env)" > status\n',
    "web/index.html": "<html><body><h1>{{ greeting }}</h1></body></html>\n",
    "web/healthcheck.sh": "#!/bin/sh\n# Make this exit 1 to watch a rollback.\ngrep -q '<h1>' served.html\n",
    "README.md": "# shop: the Lockstep demo application\n\nEdit a file, commit, and run "
    "`lockstep deploy shop --env staging --wait`.\n\n"
    f"`{DEMO_SCHEMA_FILE}` lets an editor check `lockstep.yaml`; after upgrading Lockstep, refresh it "
    f"with `lockstep schema manifest > {DEMO_SCHEMA_FILE}`.\n",
}


def demo_files() -> dict[str, str]:
    """Every file of the demo repository, the manifest's JSON Schema included (made here, not at
    import: every `lockstep` command imports this module)."""
    from lockstep.editor_schemas import SchemaName, render

    return {**DEMO_FILES, DEMO_SCHEMA_FILE: render(SchemaName.manifest)}


DEMO_SECRET_ENV = "LOCKSTEP_DEMO_WEBHOOK_SECRET"
DEMO_AUTHOR_EMAIL = "demo@lockstep.invalid"
DEMO_USERS = {
    "alice": {"groups": ["release-managers"], "email": "alice@example.com"},
    "bob": {"groups": ["release-managers"], "email": "bob@example.com"},
    "demo": {"groups": ["release-managers"], "email": DEMO_AUTHOR_EMAIL},  # the commits' author
}


def _private_value(path: Path, make: Callable[[], str]) -> str:
    """The secret kept in `path`, made on first start; owner-only whenever it is read."""
    private_dir(path.parent)
    if path.exists():
        tighten(path)
    else:
        write_private(path, make() + "\n")
    return path.read_text().strip()


def demo_token(state_dir: Path, user: str) -> str:
    """A demo user's API token: random, made on first start, kept (0600) under `tokens/` (0700)."""
    private_dir(state_dir)
    return _private_value(state_dir / "tokens" / user, lambda: secrets.token_urlsafe(24))


def demo_webhook_secret(state_dir: Path) -> str:
    """The demo repository's webhook secret: random, made on first start, kept (0600) in the
    state folder so curl examples can sign with it. Never a default value."""
    return _private_value(state_dir / "demo-webhook-secret", lambda: secrets.token_hex(24))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def seed_demo_repository(path: Path) -> bool:
    """Create the demo Git repository unless it exists; return whether it was created."""
    if (path / ".git").exists():
        return False
    path.mkdir(parents=True, exist_ok=True)
    for name, content in demo_files().items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", "-A")
    _git(
        path,
        "-c",
        "user.name=Lockstep Demo",
        "-c",
        f"user.email={DEMO_AUTHOR_EMAIL}",
        "commit",
        "-q",
        "-m",
        "Demo shop: db, api and web",
    )
    return True


def _tighten_state(state_dir: Path) -> None:
    """The state folder and the tokens in it owner-only, whatever an older version left."""
    private_dir(state_dir)
    tokens = state_dir / "tokens"
    if tokens.is_dir():
        private_dir(tokens)
        for token in tokens.iterdir():
            if token.is_file():
                tighten(token)


def write_dev_config(state_dir: Path, *, temporal_port: int, api_listen: str) -> Path:
    """Write the dev server config (absolute paths, 0600) unless it exists; return its path."""
    path = state_dir / "lockstep-server.yaml"
    _tighten_state(state_dir)
    if path.exists():
        tighten(path)  # it names the users' token hashes and the secrets' variables
        return path
    root = state_dir.resolve()
    policies = root / "policies"
    if not policies.exists():  # a copy of the shipped bundle to edit (remediation, approvals)
        shutil.copytree(DEFAULT_POLICY_BUNDLE, policies)  # its Rego tests too: `lockstep policy test`
    config = {
        "temporal": {
            "address": f"127.0.0.1:{temporal_port}",
            "namespace": "default",
            "task_queue": "lockstep",
        },
        "database_url": f"sqlite:///{root / 'lockstep.db'}",
        "state_dir": str(root),
        "api": {"listen": api_listen},
        "policy": {"engine": "embedded", "path": str(policies)},
        "repositories": [
            {"url": str(root / "demo" / "shop"), "name": "demo/shop", "webhook_secret_env": DEMO_SECRET_ENV}
        ],
        "targets": {
            "local-staging": {"type": "local", "root": str(root / "targets" / "staging")},
            "local-production": {"type": "local", "root": str(root / "targets" / "production")},
            "k8s-staging": {"type": "kubernetes", "namespace": "shop-staging"},
            "k8s-production": {"type": "kubernetes", "namespace": "shop"},
        },
        "users": {
            name: {**user, "token_sha256": hashlib.sha256(demo_token(root, name).encode()).hexdigest()}
            for name, user in DEMO_USERS.items()
        },
    }
    write_private(path, "# Written by `lockstep dev` on first start; edit freely.\n" + yaml.safe_dump(config))
    return path
