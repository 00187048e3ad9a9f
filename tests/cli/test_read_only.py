"""Commands that read the system of record never create one (issue item 6, the CLI's part).

Pointed at a database that does not exist, `status`, `list`, `history` and `audit verify|list`
say so, naming the path, and exit 1; `plan` previews as if nothing were deployed and says why.
None of them leaves a file or a folder behind.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lockstep.devstack.demo import seed_demo_repository, write_dev_config
from tests.cli.conftest import Cli


async def test_no_command_creates_a_database(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    seed_demo_repository(repo)
    config = write_dev_config(tmp_path / "state", temporal_port=1, api_listen="127.0.0.1:1")
    content = yaml.safe_load(config.read_text())
    absent = tmp_path / "absent" / "lockstep.db"
    content["database_url"] = f"sqlite:///{absent}"
    content["repositories"] = [{"url": str(repo)}]
    config.write_text(yaml.safe_dump(content))
    cli = Cli(config=config, cwd=tmp_path)

    for args in (
        ["status"],
        ["status", "shop-staging-0123456789"],
        ["list"],
        ["history", "shop", "--env", "staging"],
        ["audit", "verify"],
        ["audit", "list"],
    ):
        result = await cli(*args)
        assert result.code == 1, (args, result.stdout, result.stderr)
        assert f"no database at {absent} (database_url sqlite:///{absent})" in result.stderr, args

    preview = await cli("plan", str(repo), "--env", "staging")
    assert preview.code == 0, preview.stderr
    assert f"no database at {absent}" in preview.stderr and "as if nothing were deployed" in preview.stderr
    assert "create" in preview.stdout  # every component is new
    assert not absent.parent.exists()
