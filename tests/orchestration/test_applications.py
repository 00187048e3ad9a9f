"""Finding the repository of an application (`lockstep deploy`, `rollback`): an unknown one is
named with the applications that are known, and a configuration without repositories (most often
not the server's: run from another folder) says where the server's is looked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockstep.domain.errors import ConfigError
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.orchestration.applications import find_application
from lockstep.settings import Settings
from tests.support.apprepo import commit, three_tier_manifest


def test_an_unknown_application_names_the_known_ones(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    commit(repo, {"lockstep.yaml": three_tier_manifest(counters=tmp_path)}, "first")
    settings = Settings(state_dir=str(tmp_path / "state"), repositories=[{"url": str(repo)}])
    assert find_application(settings, GitMirrors(settings.mirrors_dir), "shop").repository == str(repo)
    with pytest.raises(ConfigError, match=r"declares application 'shoe' \(known: shop\)$"):
        find_application(settings, GitMirrors(settings.mirrors_dir), "shoe")


def test_no_repositories_says_where_the_configuration_is_looked_for(tmp_path: Path) -> None:
    settings = Settings(state_dir=str(tmp_path / "state"))
    with pytest.raises(ConfigError) as raised:
        find_application(settings, GitMirrors(settings.mirrors_dir), "shop")
    assert "(known: none); this configuration has no repositories: is it the server's?" in str(raised.value)
    assert "LOCKSTEP_CONFIG" in str(raised.value)
