"""`lockstep plan` on a host component: counts per host, `--diff` the files' unified diffs, through
the same deliverer registry as kubernetes (tests/cli/test_plan_diff.py). Needs the host kind's
observe/diff (`lockstep.delivery.host_live`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lockstep.settings import Settings
from tests.cli.conftest import Cli
from tests.support.apprepo import commit
from tests.support.policies import open_window_bundle

MANIFEST = """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {site: local-test}
components:
  - name: web
    target: site
    host: {files: [{src: web/, dest: /srv/web}]}
"""


async def test_plan_shows_a_host_components_files_to_create(
    cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    commit(tmp_path / "shop", {"lockstep.yaml": MANIFEST, "web/index.html": "<h1>shop</h1>\n"}, "first")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        state_dir=str(tmp_path / "state"),
        targets={"local-test": {"type": "local", "root": str(tmp_path / "target")}},
        policy={"engine": "embedded", "path": str(open_window_bundle(tmp_path / "policies"))},
    )
    cli = cli_for(settings)

    text = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--diff")
    assert text.code == 0, text.stdout + text.stderr
    [line] = [line.split() for line in text.stdout.splitlines() if line.strip().startswith("web  ")]
    assert line == ["web", "host", "local", "1", "created"], text.stdout
    assert "+<h1>shop</h1>" in text.stdout.splitlines()

    result = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--output", "json")
    [staging] = json.loads(result.stdout)
    [web] = staging["plan"]["components"]
    assert web["change_counts"] == {"created": 1, "configured": 0, "unchanged": 0, "deleted": 0}
    assert web["unreachable"] == []
    [local] = web["changes"]
    assert local["location"] == "local" and local["unreachable"] is None
    assert [(c["subject"], c["action"]) for c in local["changes"]] == [("/srv/web/index.html", "created")]
    assert not (tmp_path / "target" / "srv" / "web").exists()  # planning wrote nothing


async def test_plan_diff_masks_known_secrets_in_live_content_and_names(
    cli_for: Callable[[Settings], Cli], tmp_path: Path
) -> None:
    secret = "s3cr3tValue-XYZ"
    files = {"lockstep.yaml": MANIFEST, f"web/{secret}.txt": "token=none\n"}
    commit(tmp_path / "shop", files, "first")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        state_dir=str(tmp_path / "state"),
        targets={"local-test": {"type": "local", "root": str(tmp_path / "target")}},
        policy={"engine": "embedded", "path": str(open_window_bundle(tmp_path / "policies"))},
        secret_env=["REGISTRY_TOKEN"],
    )
    cli = cli_for(settings)
    cli.env["REGISTRY_TOKEN"] = secret

    text = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--diff")
    result = await cli("plan", str(tmp_path / "shop"), "--env", "staging", "--output", "json")

    assert text.code == 0 and result.code == 0, text.stderr + result.stderr
    assert secret not in text.stdout and secret not in result.stdout
    assert "/srv/web/***.txt" in result.stdout
