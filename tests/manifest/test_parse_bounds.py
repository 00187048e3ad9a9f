"""The parsing bounds of docs/manifest.md: oversized files, deep nesting and YAML aliases that expand without
end are refused with the file, the key (and document) and the line; ordinary anchors still load."""

from __future__ import annotations

import pytest

from lockstep.domain.errors import ManifestError
from lockstep.domain.limits import (
    KUBERNETES_FILE_MAX_BYTES,
    MANIFEST_MAX_BYTES,
    MAX_NESTING_DEPTH,
    MIB,
    size_text,
)
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest
from lockstep.manifest.loader import load_kubernetes_documents

HEADER = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n"


def billion_laughs(levels: int = 9) -> str:
    """`data.a8` stands for 9**9 strings; the file is under 1 KiB."""
    lines = ["data:", "  a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def manifest_error(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_manifest(MemorySourceTree({"lockstep.yaml": text}))
    return info.value


def kube_error(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_kubernetes_documents(text, "k8s/bomb.yaml")
    return info.value


def test_an_alias_bomb_in_a_kubernetes_file_is_refused_naming_document_key_and_line() -> None:
    e = kube_error(f"{HEADER}---\n{HEADER}{billion_laughs()}")
    assert e.file == "k8s/bomb.yaml"
    assert e.key == "document 2: data.a6[0]"  # the first alias past the bound
    assert "more than 1,000,000 values" in e.message and "(line 15)" in e.message


def test_an_alias_bomb_in_lockstep_yaml_is_refused_naming_the_key() -> None:
    e = manifest_error(f"application: shop\nvalues:\n  {billion_laughs().replace(chr(10), chr(10) + '  ')}")
    assert (e.file, e.key) == ("lockstep.yaml", "values.data.a6[0]")
    assert "aliases" in e.message


def test_an_alias_repeating_a_long_string_is_refused_by_its_expanded_text() -> None:
    text = "s: &s " + "x" * 100_000 + "\nl: [" + ", ".join(["*s"] * 200) + "]\n"
    e = kube_error(text)
    assert e.key == "document 1: l[166]" and "characters of text" in e.message


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "flow"),
        ("x:\n" + "- " * 5000 + "leaf\n", "block"),
        ("x: " + "{a: " * 5000 + "b" + "}" * 5000 + "\n", "mapping"),
    ],
)
def test_five_thousand_levels_are_refused_not_a_recursion_error(text: str, shape: str) -> None:
    for e in (manifest_error(text), kube_error(text)):
        assert f"nested deeper than {MAX_NESTING_DEPTH} levels" in e.message, shape
        assert e.key.endswith("...")  # the path, cut short
        assert "(line 1)" in e.message or "(line 2)" in e.message


def test_aliases_nesting_each_other_count_as_deep_as_they_expand() -> None:
    chain = "a0: &a0 [leaf]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 300))
    merges = "a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i} {{<<: *a{i - 1}}}\n" for i in range(1, 2000))
    assert "alias expands to nesting deeper than 100" in kube_error(chain).message
    e = manifest_error(merges)  # 2 levels as written, 2000 once the merges are expanded
    assert e.key == "a98.<<" and "deeper than 100" in e.message


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a [x, {y: [*a]}]\n"])
def test_an_alias_inside_its_own_anchor_is_refused(text: str) -> None:
    assert "an alias refers to a collection that contains it" in kube_error(text).message
    assert "an alias refers to a collection that contains it" in manifest_error(text).message


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ("1" * 5000, "4300 digits"),
        ("2001-13-01", "month must be in 1..12"),
        ("!!int abc", "invalid literal for int()"),
        ("!!float abc", "could not convert string to float"),
        ("!!timestamp abc", "cannot read this value"),
    ],
)
def test_scalars_pyyaml_cannot_convert_are_yaml_errors_with_the_line(value: str, cause: str) -> None:
    e = manifest_error(f"application: shop\nenvironments: {value}\n")
    assert e.file == "lockstep.yaml" and "at line 2" in e.message and cause in e.message


def test_ordinary_anchors_and_merges_still_load() -> None:
    text = """\
application: shop
environments:
  - &staging {name: staging, branch: main, targets: {site: site-a}, values: &v {greeting: hi}}
  - {<<: *staging, name: production, promote_from: staging, targets: {site: site-b}, values: *v}
components:
  - {name: web, target: site, host: {files: [{src: web/, dest: /srv/web}]}}
"""
    m = load_manifest(MemorySourceTree({"lockstep.yaml": text}))
    assert [e.name for e in m.environments] == ["staging", "production"]
    assert m.environments[1].values == {"greeting": "hi"} and m.environments[1].branch == "main"


def test_nesting_up_to_the_bound_loads() -> None:
    depth = MAX_NESTING_DEPTH - 1  # the document's own mapping is the first level
    docs = load_kubernetes_documents(HEADER + "x: " + "[" * (depth - 1) + "]" * (depth - 1), "k8s/x.yaml")
    value = docs[0][1]["x"]
    for _ in range(depth - 2):
        assert isinstance(value, list)
        value = value[0]
    assert value == []


class Oversized(MemorySourceTree):
    """A tree whose lockstep.yaml is 50 MiB and must never be read."""

    def size(self, path: str) -> int:
        return 50 * MIB

    def read(self, path: str) -> bytes:
        raise AssertionError(f"{path} was read although its size is past the bound")


def test_a_50_mib_lockstep_yaml_is_refused_before_it_is_read() -> None:
    with pytest.raises(ManifestError) as info:
        load_manifest(Oversized({"lockstep.yaml": ""}))
    assert info.value.file == "lockstep.yaml"
    limit = size_text(MANIFEST_MAX_BYTES)
    assert info.value.message == f"50 MiB is larger than the {limit} lockstep.yaml may have"


def test_a_manifest_just_past_the_bound_is_refused_and_one_at_it_is_parsed() -> None:
    prefix = "application: shop\n"
    at_bound = prefix + "#" * (MANIFEST_MAX_BYTES - len(prefix) - 1) + "\n"
    assert len(at_bound.encode()) == MANIFEST_MAX_BYTES
    assert "required key 'environments'" in manifest_error(at_bound).message  # parsed, then validated
    past = manifest_error(at_bound + "#")
    size = size_text(MANIFEST_MAX_BYTES + 1)
    assert past.message == f"{size} is larger than the 1 MiB lockstep.yaml may have"


def test_a_kubernetes_file_past_its_bound_is_refused() -> None:
    text = HEADER + "data: {x: " + "y" * KUBERNETES_FILE_MAX_BYTES + "}\n"
    e = kube_error(text)
    assert e.file == "k8s/bomb.yaml" and "the 4 MiB a Kubernetes manifest file may have" in e.message
