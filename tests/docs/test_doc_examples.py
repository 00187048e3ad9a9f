"""Every YAML block of the documentation (docs/*.md and README.md) is checked here, or says why not.

A reader copies examples from the docs; one that no longer loads is worse than none. Each fenced
```yaml block is sorted by the HTML comment on the line before it (blank lines between allowed),
or, without one, by its top-level keys:

- `<!-- illustrative ... -->`: a fragment or a foreign file (a Prometheus rule, say); not checked.
- `<!-- planned ... -->`: the complete `lockstep.yaml` example of docs/manifest.md. It is loaded,
  rendered, and planned by `lockstep plan` in a real Git repository holding the blocks marked
  `<!-- file: PATH -->` of the same page (whatever their language), against the production
  server configuration of docs/configuration.md.
- `<!-- file: PATH -->`: a file of that repository (checked by planning it).
- `<!-- server-config ... -->`, or a block with `temporal:` or `targets:` at the top level: a
  server configuration, validated by `load_settings` (the real loader, `Settings` included) with
  no `LOCKSTEP_*` variable set. The one marked `server-config: defaults` must equal the defaults.
- a block with `application:` at the top level: a `lockstep.yaml`, loaded by `load_manifest`
  (which validates references, placeholders in dests and dest ownership, but reads no other file).

Anything else fails `test_every_yaml_block_is_checked_or_marked_illustrative`, naming the page
and line: mark it, or make it a whole file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest, render_environment
from lockstep.settings import Settings, load_settings, with_paths_resolved
from lockstep.targets.registry import TargetRegistry
from tests.cli.conftest import Cli
from tests.support.apprepo import commit
from tests.support.policies import open_window_bundle

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
MANIFEST_PAGE = ROOT / "docs" / "manifest.md"
CONFIG_PAGE = ROOT / "docs" / "configuration.md"

_FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    marker: str  # the HTML comment before the fence, without <!-- -->; "" when there is none
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced code block of `page`, with the marker comment right before it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), len(lines))
        before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        marker = _MARKER.match(before)
        indent = len(opening.group(1))
        body = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
        found.append(Block(page, i + 1, opening.group(2), marker.group(1) if marker else "", body))
        i = end + 1
    return found


def kind_of(block: Block) -> str:
    """manifest, server-config, planned, file, illustrative, or unmarked."""
    for kind in ("illustrative", "planned", "server-config"):
        if block.marker.startswith(kind):
            return kind
    if block.marker.startswith("file:"):
        return "file"
    try:
        data = yaml.safe_load(block.text)
    except yaml.YAMLError:
        return "unmarked"
    if isinstance(data, dict) and "application" in data:
        return "manifest"
    if isinstance(data, dict) and ("temporal" in data or "targets" in data):
        return "server-config"
    return "unmarked"


YAML_BLOCKS = [b for page in PAGES for b in blocks(page) if b.language in ("yaml", "yml")]


def of_kind(kind: str) -> list[Any]:
    return [pytest.param(b, id=b.where) for b in YAML_BLOCKS if kind_of(b) == kind]


def only(kind: str, page: Path, marker: str = "") -> Block:
    [block] = [b for b in blocks(page) if kind_of(b) == kind and b.marker.startswith(marker)]
    return block


def test_every_yaml_block_is_checked_or_marked_illustrative() -> None:
    unmarked = [b.where for b in YAML_BLOCKS if kind_of(b) == "unmarked"]
    assert unmarked == [], (
        "YAML blocks that are neither a whole lockstep.yaml or server configuration nor marked "
        "<!-- illustrative -->: " + ", ".join(unmarked)
    )
    # The reference pages hold examples that are checked, not only illustrations.
    checked = {"manifest", "planned", "server-config"}
    for page, least in ((MANIFEST_PAGE, 1), (CONFIG_PAGE, 3)):
        kinds = [kind_of(b) for b in YAML_BLOCKS if b.page == page]
        assert sum(k in checked for k in kinds) >= least, (page.name, kinds)


@pytest.mark.parametrize("block", of_kind("manifest") + of_kind("planned"))
def test_manifest_examples_load(block: Block) -> None:
    manifest = load_manifest(MemorySourceTree({"lockstep.yaml": block.text}))
    assert manifest.environments and manifest.components


@pytest.fixture
def no_lockstep_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the docs show, not what this machine's environment overrides."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("LOCKSTEP_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("block", of_kind("server-config"))
def test_server_config_examples_validate(block: Block, tmp_path: Path, no_lockstep_env: None) -> None:
    path = tmp_path / "lockstep-server.yaml"
    path.write_text(block.text)
    settings = load_settings(path)
    written = yaml.safe_load(block.text)
    # Every target and user written is there, with its type: nothing dropped or renamed.
    assert {n: t.type for n, t in settings.targets.items()} == {
        n: t["type"] for n, t in (written.get("targets") or {}).items()
    }
    assert sorted(settings.users) == sorted(written.get("users") or {})


def test_documented_defaults_are_the_defaults(tmp_path: Path, no_lockstep_env: None) -> None:
    path = tmp_path / "lockstep-server.yaml"
    path.write_text(only("server-config", CONFIG_PAGE, "server-config: defaults").text)
    documented = load_settings(path)
    assert documented.model_dump() == with_paths_resolved(Settings(), tmp_path).model_dump()


def example_files() -> dict[str, str]:
    """The complete example's repository: its lockstep.yaml and every `file:` block of the page."""
    files = {"lockstep.yaml": only("planned", MANIFEST_PAGE).text}
    for block in blocks(MANIFEST_PAGE):
        if block.marker.startswith("file:"):
            files[block.marker.removeprefix("file:").strip()] = block.text
    return files


def production_settings(tmp_path: Path) -> Settings:
    path = tmp_path / "etc" / "lockstep-server.yaml"
    path.parent.mkdir()
    path.write_text(only("server-config", CONFIG_PAGE, "server-config: production").text)
    return load_settings(path)


def test_complete_example_renders_as_the_page_says(tmp_path: Path, no_lockstep_env: None) -> None:
    files = example_files()
    assert "k8s/catalogue/deployment.yaml" in files and "web/templates/banner.tmpl" in files
    source = MemorySourceTree(files)
    manifest = load_manifest(source)
    targets = TargetRegistry(production_settings(tmp_path).targets)
    cases = (("staging", 1, "staging.shop.example.com"), ("production", 3, "shop.example.com"))
    for env, replicas, host in cases:
        rendered = {
            c.name: c
            for c in render_environment(
                manifest, env, source, target_types=targets.types(), target_namespaces=targets.namespaces()
            )
        }
        catalogue, web = rendered["catalogue"], rendered["web"]
        deployment = next(o for o in catalogue.objects if o["kind"] == "Deployment")
        spec = deployment["spec"]
        assert isinstance(spec, dict)
        assert spec["replicas"] == replicas  # a number once rendered, as the page says
        assert catalogue.target_namespace == "shop"
        trees = {r.dest: r.files for r in web.releases}
        assert sorted(trees) == ["/srv/shop/web", "/srv/shop/web-templates"]
        assert f"PUBLIC_HOST={host}\n".encode() in trees["/srv/shop/web"]["site.env"]
        assert trees["/srv/shop/web"]["index.html"] == f"<h1>shop ({env})</h1>\n".encode()
        assert trees["/srv/shop/web-templates"]["banner.tmpl"] == files["web/templates/banner.tmpl"].encode()
        assert web.health.http[0].url == f"https://{host}/healthz"


async def test_complete_example_plans_cleanly(tmp_path: Path) -> None:
    """`lockstep plan` of the complete example, as a user runs it, against the production
    configuration; the database, state folder and policy engine are pointed at this test's folder
    by LOCKSTEP_* variables (the production file names PostgreSQL and an OPA server), and the
    default bundle's change window is opened so the result does not depend on the weekday."""
    repo = tmp_path / "shop"
    commit(repo, example_files(), "the complete example of docs/manifest.md")
    config = tmp_path / "etc" / "lockstep-server.yaml"
    config.parent.mkdir()
    config.write_text(only("server-config", CONFIG_PAGE, "server-config: production").text)
    policies = open_window_bundle(tmp_path / "policies")
    cli = Cli(
        config=config,
        cwd=tmp_path,
        env={
            "LOCKSTEP_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",  # absent: nothing deployed
            "LOCKSTEP_STATE_DIR": str(tmp_path / "state"),
            "LOCKSTEP_POLICY__ENGINE": "embedded",
            "LOCKSTEP_POLICY__PATH": str(policies),
            "LOCKSTEP_TOKEN": "",
        },
    )
    result = await cli("plan", str(repo), "--output", "json")
    assert result.code == 0, result.stdout + result.stderr
    staging, production = json.loads(result.stdout)
    for env in (staging, production):
        assert env["plan"]["waves"] == [["catalogue"], ["web"]]
        assert env["policy"]["allowed"] and env["target_limits"]["allowed"], env
        web = next(c for c in env["plan"]["components"] if c["name"] == "web")
        assert web["dests"] == ["/srv/shop/web", "/srv/shop/web-templates"]
        assert web["commands"] == ["sudo systemctl reload shop-web", "test -s index.html"]
    assert (staging["environment"], production["environment"]) == ("staging", "production")
    assert staging["policy"]["approvals_required"] == 0
    assert production["policy"]["approvals_required"] == 2
    assert production["promotion"] == {
        "promote_from": ["staging"],
        "satisfied": False,
        "reason": production["promotion"]["reason"],
    }
    assert [c["target"] for c in production["plan"]["components"]] == ["k8s-prod", "vms-prod"]
