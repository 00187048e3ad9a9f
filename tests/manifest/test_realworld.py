"""Rendering real-world Kubernetes manifests (Argo CD's sock-shop example) as one component."""

from __future__ import annotations

from pathlib import Path

import pytest

from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest, render_environment

REALWORLD = (Path(__file__).resolve().parents[2] / "../shared/realworld").resolve()
SOCK_SHOP = REALWORLD / "argocd-example-apps/sock-shop/base"

MANIFEST = """\
application: sock-shop
environments:
  - name: dev
    targets: {cluster: kind}
components:
  - name: sock-shop
    target: cluster
    kubernetes: {manifests: k8s/sock-shop}
"""


def test_sock_shop_renders_with_untagged_images() -> None:
    if not SOCK_SHOP.is_dir():
        pytest.skip(f"../shared/realworld absent ({SOCK_SHOP} does not exist)")
    files: dict[str, str | bytes] = {
        f"k8s/sock-shop/{p.relative_to(SOCK_SHOP).as_posix()}": p.read_bytes()
        for p in sorted(SOCK_SHOP.rglob("*"))
        if p.is_file()
    }
    files["lockstep.yaml"] = MANIFEST
    source = MemorySourceTree(files)
    [component] = render_environment(
        load_manifest(source), "dev", source, target_types={"kind": "kubernetes"}
    )
    kinds = {str(o["kind"]) for o in component.objects}
    assert {"Deployment", "Service"} <= kinds
    assert len(component.objects) >= len([p for p in files if p.startswith("k8s/") and p.endswith(".yaml")])
    assert "mongo" in component.images
    assert "weaveworksdemos/front-end:0.3.12" in component.images
    assert list(component.images) == sorted(set(component.images))
