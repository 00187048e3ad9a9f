"""Where host components deliver: no two dests on one target may nest, and no dest may be degenerate.

Lockstep owns everything under a `dest` (`releases/` is pruned, `current` is replaced), so a dest
inside another's is destroyed by the outer one's deployments. The rule is judged on rendered dests,
per server target, across components and across the environments that bind the same target.
"""

from __future__ import annotations

import pytest

from lockstep.domain.errors import ManifestError
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import Manifest, load_manifest

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
