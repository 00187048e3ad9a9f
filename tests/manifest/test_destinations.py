"""Where host components deliver: no two dests on one target may nest, and no dest may be degenerate.

Lockstep owns everything under a `dest` (`releases/` is pruned, `current` is replaced), so a dest
inside another's is destroyed by the outer one's deployments. The rule is judged on rendered dests,
per server target, across components and across the environments that bind the same target.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lockstep.domain.errors import ManifestError
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import Manifest, load_manifest, render_environment
from lockstep.manifest.destinations import nested_folders

# Two components on logical targets `front` and `back`; each environment says where they land.
TWO = """\
application: shop
environments:
  - name: staging
    targets: {front: STAGING_FRONT, back: STAGING_BACK, cluster: k8s}
    values: {sub: staging}
  - name: production
    targets: {front: PRODUCTION_FRONT, back: PRODUCTION_BACK, cluster: k8s}
    values: {sub: production}
components:
  - {name: a, target: front, host: {files: [{src: a/, dest: "DEST_A"}]}}
  - {name: b, target: back, host: {files: [{src: b/, dest: "DEST_B"}]}}
  - {name: db, target: cluster, kubernetes: {manifests: k8s/db.yaml}}
"""
SOURCES = {
    "a/index.html": "a\n",
    "b/data.txt": "b\n",
    "k8s/db.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: db}}\n",  # no dest: not compared
}
SAME = {"STAGING": ("vms", "vms"), "PRODUCTION": ("vms-prod", "vms-prod")}


def manifest_text(dest_a: str, dest_b: str, targets: dict[str, tuple[str, str]] | None = None) -> str:
    text = TWO.replace("DEST_A", dest_a).replace("DEST_B", dest_b)
    for env, (front, back) in (targets or SAME).items():
        text = text.replace(f"{env}_FRONT", front).replace(f"{env}_BACK", back)
    return text


def load(dest_a: str, dest_b: str, targets: dict[str, tuple[str, str]] | None = None) -> Manifest:
    return load_manifest(
        MemorySourceTree({"lockstep.yaml": manifest_text(dest_a, dest_b, targets), **SOURCES})
    )


def error_of(dest_a: str, dest_b: str, targets: dict[str, tuple[str, str]] | None = None) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load(dest_a, dest_b, targets)
    return info.value


def test_a_dest_inside_another_components_dest_is_refused_naming_both() -> None:
    e = error_of("/n/a", "/n/a/releases/data")
    assert (e.file, e.key) == ("lockstep.yaml", "components[1].host.files[0].dest")
    assert str(e) == (
        "lockstep.yaml: components[1].host.files[0].dest: /n/a/releases/data "
        "(component 'b', environment 'staging', target 'vms') lies inside /n/a, the dest of "
        "components[0].host.files[0].dest (component 'a', environment 'staging'); Lockstep prunes and "
        "replaces what is under a dest, so two dests on one target may not nest"
    )


def test_the_inner_dest_is_the_one_reported_whichever_comes_first() -> None:
    e = error_of("/n/a/current/x", "/n/a")
    assert e.key == "components[0].host.files[0].dest"
    assert "/n/a/current/x (component 'a'" in e.message and "inside /n/a, the dest of" in e.message


@pytest.mark.parametrize(
    ("outer", "inner"),
    [("/srv", "/srv/web"), ("/srv/web/", "/srv/web/static"), ("//srv/web", "/srv/web/a/b/c")],
)
def test_nesting_at_any_depth_and_in_any_spelling_is_refused(outer: str, inner: str) -> None:
    assert "may not nest" in error_of(outer, inner).message


@pytest.mark.parametrize("other", ["/srv/web-admin", "/srv/web2", "/srv/we", "/srv/webb/web", "/opt/srv/web"])
def test_siblings_sharing_a_prefix_of_characters_do_not_nest(other: str) -> None:
    load("/srv/web", other)


def test_nesting_across_environments_on_one_target_is_refused() -> None:
    # `a` lands on vms only in production, `b` only in staging: no environment alone nests them.
    crossed = {"STAGING": ("vms-other", "vms"), "PRODUCTION": ("vms", "vms-other")}
    e = error_of("/n/a", "/n/a/releases/data", crossed)
    assert e.key == "components[1].host.files[0].dest"
    assert "/n/a/releases/data (component 'b', environment 'staging', target 'vms')" in e.message
    assert "inside /n/a, the dest of components[0].host.files[0].dest (component 'a', " in e.message
    assert "environment 'production')" in e.message


def test_nesting_is_allowed_when_the_targets_differ() -> None:
    apart = {"STAGING": ("vms-1", "vms-2"), "PRODUCTION": ("vms-3", "vms-4")}
    manifest = load("/n/a", "/n/a/releases/data", apart)
    tree = MemorySourceTree({"lockstep.yaml": manifest_text("/n/a", "/n/a/releases/data", apart), **SOURCES})
    types = {t: "local" for t in ("vms-1", "vms-2", "vms-3", "vms-4")} | {"k8s": "kubernetes"}
    a, b, _ = render_environment(manifest, "staging", tree, target_types=types)
    assert (a.releases[0].dest, b.releases[0].dest) == ("/n/a", "/n/a/releases/data")


def test_rendering_refuses_nested_dests_even_for_a_manifest_that_skipped_the_loader() -> None:
    # The worker renders through `render_environment`; it must not deliver what `plan` refuses.
    text = manifest_text("/n/a", "/n/a/releases/data")
    manifest = Manifest.model_validate(yaml.safe_load(text))
    tree = MemorySourceTree({"lockstep.yaml": text, **SOURCES})
    types = {"vms": "ssh", "vms-prod": "ssh", "k8s": "kubernetes"}
    with pytest.raises(ManifestError, match="may not nest"):
        render_environment(manifest, "production", tree, target_types=types)


def test_placeholders_rendering_to_nested_dests_are_refused() -> None:
    # One component, one target for both environments: /srv/web (production) holds /srv/web/staging.
    text = manifest_text("/srv/{{ where }}", "/b").replace(
        "values: {sub: staging}", 'values: {sub: staging, where: "web/staging"}'
    )
    text = text.replace("values: {sub: production}", "values: {sub: production, where: web}")
    text = text.replace("front: vms-prod", "front: vms")
    with pytest.raises(ManifestError) as info:
        load_manifest(MemorySourceTree({"lockstep.yaml": text, **SOURCES}))
    message = info.value.message
    assert info.value.key == "components[0].host.files[0].dest"
    assert "/srv/web/staging (component 'a', environment 'staging', target 'vms')" in message
    assert "inside /srv/web, the dest of components[0].host.files[0].dest" in message
    assert "(component 'a', environment 'production')" in message


def test_placeholders_rendering_apart_are_accepted() -> None:
    load("/srv/{{ sub }}", "/srv/{{ sub }}-data")
    one_target = {"STAGING": ("vms", "vms"), "PRODUCTION": ("vms", "vms")}
    load("/srv/{{ environment }}/a", "/srv/{{ environment }}/b", one_target)
    load("/srv/{{ environment }}", "/srv/{{ environment }}-data", one_target)


def test_one_component_may_merge_several_trees_into_one_dest_but_not_nest_them() -> None:
    merged = manifest_text("/srv/a", "/b").replace(
        '[{src: a/, dest: "/srv/a"}]', '[{src: a/, dest: "/srv/a"}, {src: b/, dest: "/srv/a/"}]'
    )
    tree = MemorySourceTree({"lockstep.yaml": merged, **SOURCES})
    manifest = load_manifest(tree)
    types = {"vms": "local", "vms-prod": "local", "k8s": "kubernetes"}
    a, _, _ = render_environment(manifest, "staging", tree, target_types=types)
    assert [(r.dest, sorted(r.files)) for r in a.releases] == [("/srv/a", ["data.txt", "index.html"])]

    nested = merged.replace('{src: b/, dest: "/srv/a/"}', '{src: b/, dest: "/srv/a/static"}')
    with pytest.raises(ManifestError) as info:
        load_manifest(MemorySourceTree({"lockstep.yaml": nested, **SOURCES}))
    assert info.value.key == "components[0].host.files[1].dest"
    assert "the dest of components[0].host.files[0].dest (component 'a'" in info.value.message


@pytest.mark.parametrize("spelling", ["/srv/web/", "//srv/web", "/srv//web", "/srv/./web", "///srv/web/."])
def test_spellings_of_one_folder_are_one_dest(spelling: str) -> None:
    e = error_of("/srv/web", spelling)
    assert "both deliver to /srv/web on target 'vms'" in e.message


@pytest.mark.parametrize(
    ("dest", "fragment"),
    [
        ("/", "must not be the root folder"),
        ("//", "must not be the root folder"),
        ("///", "must not be the root folder"),
        ("/./", "must not be the root folder"),
        ("/srv/..", "must not contain '..'"),
        ("/srv/../etc", "must not contain '..'"),
        ("srv/web", "must be an absolute path"),
        ("./srv", "must be an absolute path"),
        ("", "must be an absolute path"),
    ],
)
def test_degenerate_dests_are_refused(dest: str, fragment: str) -> None:
    e = error_of("/a", dest)
    assert e.key == "components[1].host.files[0].dest"
    assert fragment in e.message


@pytest.mark.parametrize("value", ["//", "/", "/./", "//."])
def test_placeholders_rendering_to_the_root_folder_are_refused(value: str) -> None:
    text = manifest_text("/a", "{{ v }}").replace("values: {sub: staging}", f'values: {{v: "{value}"}}')
    with pytest.raises(ManifestError) as info:
        load_manifest(MemorySourceTree({"lockstep.yaml": text, **SOURCES}))
    assert info.value.key == "components[1].host.files[0].dest"
    assert "must not be the root folder" in info.value.message


# -- the pure search, against a brute-force oracle --------------------------------------------------

SEGMENT = st.sampled_from(["a", "b", "a-b", "ab", "a.b", "b0"])
FOLDERS = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2"]),
        st.lists(SEGMENT, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s)),
    ),
    unique=True,
    max_size=12,
)


def contains(outer: tuple[str, str], inner: tuple[str, str]) -> bool:
    return outer[0] == inner[0] and inner[1].startswith(outer[1] + "/")


@settings(max_examples=300, deadline=None)
@given(FOLDERS)
def test_nested_folders_finds_exactly_the_nested_ones_and_their_nearest_container(
    folders: list[tuple[str, str]],
) -> None:
    found = nested_folders(folders)
    expected_inner = {i for i, f in enumerate(folders) if any(contains(g, f) for g in folders)}
    assert set(found) == expected_inner
    for inner, outer in found.items():
        assert contains(folders[outer], folders[inner])
        # nearest: no other container lies between them
        between = [g for g in folders if contains(folders[outer], g) and contains(g, folders[inner])]
        assert between == []


def test_a_dest_rendered_past_the_path_bound_is_refused() -> None:
    long_value = "/srv/" + "a/" * 600  # a legal value (64 KiB allowed), but no dest
    text = manifest_text("/a", "{{ v }}/{{ sub }}").replace("values: {", "values: {v: VALUE, ")
    with pytest.raises(ManifestError) as info:
        load_manifest(MemorySourceTree({"lockstep.yaml": text.replace("VALUE", long_value), **SOURCES}))
    assert info.value.key == "components[1].host.files[0].dest"
    assert "longer than the maximum 1024 characters" in info.value.message
    # 1024 characters exactly in production, the longer environment name: still a dest
    at_the_bound = "/srv/" + "a" * (1024 - len("/srv/") - len("/production"))
    load_manifest(MemorySourceTree({"lockstep.yaml": text.replace("VALUE", at_the_bound), **SOURCES}))
