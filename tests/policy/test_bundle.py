"""Loading a bundle folder: modules, data merged at folder paths, revision, errors naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lockstep.policy.bundle import PolicyBundleError, bundle_revision, load_bundle
from tests.policy.conftest import DEFAULT_BUNDLE


def test_default_bundle_loads() -> None:
    bundle = load_bundle(DEFAULT_BUNDLE)
    assert {"lockstep/deploy.rego", "lockstep/drift.rego", "lockstep/deploy_test.rego"} <= set(bundle.modules)
    assert not any(p.endswith("_test.rego") for p in bundle.policy_modules)
    assert bundle.data["lockstep"]["config"]["protected_environments"] == ["production"]
    assert bundle.revision == bundle_revision(DEFAULT_BUNDLE)


def test_revision_changes_with_any_file(bundle_copy: Callable[..., Path]) -> None:
    root = bundle_copy()
    before = bundle_revision(root)
    assert bundle_revision(bundle_copy()) == before  # same content elsewhere: same revision
    test_file = root / "lockstep/deploy_test.rego"
    test_file.write_text(test_file.read_text() + "\n# touched\n")
    after_test = bundle_revision(root)
    assert after_test != before
    (root / "NOTES.txt").write_text("x")
    assert bundle_revision(root) != after_test
    (root / "NOTES.txt").rename(root / "NOTES2.txt")
    assert len({before, after_test, bundle_revision(root)}) == 3


def test_data_merges_at_folder_path(tmp_path: Path) -> None:
    (tmp_path / "lockstep/extra").mkdir(parents=True)
    (tmp_path / "p.rego").write_text("package p\n")
    (tmp_path / "data.json").write_text('{"lockstep": {"config": {"approvals": 3}}}')
    (tmp_path / "lockstep/extra/data.json").write_text('{"teams": ["a"]}')
    (tmp_path / "lockstep/other.json").write_text('{"ignored": true}')
    data = load_bundle(tmp_path).data
    assert data == {"lockstep": {"config": {"approvals": 3}, "extra": {"teams": ["a"]}}}


def test_invalid_data_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text("package p\n")
    (tmp_path / "data.json").write_text("{not json")
    with pytest.raises(PolicyBundleError, match=r"data\.json: invalid JSON"):
        load_bundle(tmp_path)


def test_conflicting_data_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "p.rego").write_text("package p\n")
    (tmp_path / "data.json").write_text('{"a": {"b": 1}}')
    (tmp_path / "a/data.json").write_text('{"b": 2}')
    with pytest.raises(PolicyBundleError, match=r"data\.json: key a\.b is already defined"):
        load_bundle(tmp_path)


def test_missing_or_empty_bundle(tmp_path: Path) -> None:
    with pytest.raises(PolicyBundleError, match="is not a directory"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(PolicyBundleError, match=r"has no \.rego files"):
        load_bundle(tmp_path)


def test_non_utf8_rego_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.rego").write_bytes(b"package p\n\xff\n")
    with pytest.raises(PolicyBundleError, match=r"bad\.rego: not UTF-8"):
        load_bundle(tmp_path)


def test_a_folder_that_is_not_a_bundle_is_refused_before_it_is_read(
    bundle_copy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """policy.path pointed at the wrong folder: refused naming the bound, never read into memory."""
    from lockstep.policy import bundle

    root = bundle_copy()
    with (root / "big.bin").open("wb") as big:  # sparse: costs no disk
        big.truncate(bundle.MAX_FILE_BYTES + 1)
    with pytest.raises(PolicyBundleError, match="more than a policy file may hold"):
        load_bundle(root)
    (root / "big.bin").unlink()
    monkeypatch.setattr(bundle, "MAX_FILES", 3)
    with pytest.raises(PolicyBundleError, match=r"more than 3 files: is policy\.path the bundle folder"):
        bundle_revision(root)
    monkeypatch.setattr(bundle, "MAX_FILES", 2000)
    monkeypatch.setattr(bundle, "MAX_TOTAL_BYTES", 10)
    with pytest.raises(PolicyBundleError, match="more than 10 bytes"):
        load_bundle(root)
