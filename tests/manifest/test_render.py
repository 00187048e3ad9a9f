"""render_environment: placeholders, paths, Kubernetes objects, images and the content hash."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from lockstep.domain.errors import ManifestError
from lockstep.domain.models import RenderedComponent
from lockstep.domain.source import MemorySourceTree, PathOutsideRepository
from lockstep.manifest import Manifest, load_manifest, render_environment

SHOP = """\
application: shop
environments:
  - name: staging
    targets: {cluster: k8s-staging, web: vms-staging}
    values: {replicas: "1", colour: green}
  - name: production
    promote_from: staging
    targets: {cluster: k8s-prod, web: vms-prod}
    values: {replicas: "3", colour: green}
components:
  - name: catalogue-db
    target: cluster
    kubernetes: {manifests: k8s/catalogue-db}
  - name: catalogue
    target: cluster
    depends_on: [catalogue-db]
    kubernetes: {manifests: k8s/catalogue.yaml}
    health: {timeout: 5m}
  - name: web
    target: web
    depends_on: [catalogue]
    host:
      files: [{src: web/, dest: /srv/web}, {src: config/web.conf, dest: /srv/web}]
      deploy: ["systemctl restart web-{{ environment }}"]
    health: {commands: ["curl -fsS http://localhost:8080/healthz"], timeout: 2m, interval: 500ms}
"""

CATALOGUE_DB = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: catalogue-db}
spec:
  template:
    spec:
      initContainers: [{name: init, image: busybox:1.36}]
      containers: [{name: db, image: mysql:8}]
---
apiVersion: v1
kind: Service
metadata: {name: catalogue-db, annotations: {created: 2024-01-01}}
---
"""

CATALOGUE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalogue}
spec:
  replicas: {{ replicas }}
  template:
    spec:
      containers: [{name: app, image: "weaveworksdemos/catalogue:0.3.5"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: c, image: busybox:1.36}]
"""

PNG = b"\x89PNG\r\n\x1a\n\xff\xfe{{ replicas }}"
TYPES = {"k8s-staging": "kubernetes", "k8s-prod": "kubernetes", "vms-staging": "ssh", "vms-prod": "local"}


def shop_files(**overrides: str | bytes) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "lockstep.yaml": SHOP,
        "k8s/catalogue-db/statefulset.yaml": CATALOGUE_DB,
        "k8s/catalogue-db/kustomization.yaml": "resources: [statefulset.yaml]\n",
        "k8s/catalogue-db/README.md": "not YAML, not read",
        "k8s/catalogue.yaml": CATALOGUE,
        "web/index.html": "<h1>{{application}} in {{ environment }}, {{ colour }}</h1>\n",
        "web/img/logo.png": PNG,
        "config/web.conf": "replicas={{ replicas }}\n",
    }
    files.update(overrides)
    return files


def render(
    files: Mapping[str, str | bytes], env: str = "staging", types: Mapping[str, str] = TYPES
) -> dict[str, RenderedComponent]:
    source = MemorySourceTree(files)
    manifest = load_manifest(source)
    return {c.name: c for c in render_environment(manifest, env, source, target_types=types)}


def render_error(files: Mapping[str, str | bytes], env: str = "staging") -> ManifestError:
    with pytest.raises(ManifestError) as info:
        render(files, env)
    return info.value


def test_spec_example_renders_in_manifest_order() -> None:
    source = MemorySourceTree(shop_files())
    out = render_environment(load_manifest(source), "staging", source, target_types=TYPES)
    assert [c.name for c in out] == ["catalogue-db", "catalogue", "web"]
    db, catalogue, web = out
    assert (db.kind, db.target, db.target_name) == ("kubernetes", "cluster", "k8s-staging")
    assert [o["kind"] for o in db.objects] == ["StatefulSet", "Service"]  # kustomization skipped
    assert db.objects[1]["metadata"] == {"name": "catalogue-db", "annotations": {"created": "2024-01-01"}}
    assert catalogue.depends_on == ("catalogue-db",)
    assert catalogue.objects[0]["spec"]["replicas"] == 1  # type: ignore[index]
    assert catalogue.health.timeout_seconds == 300
    assert (web.kind, web.target_name, web.depends_on) == ("host", "vms-staging", ("catalogue",))
    assert len(web.releases) == 1 and web.releases[0].dest == "/srv/web"
    assert web.releases[0].files == {
        "index.html": b"<h1>shop in staging, green</h1>\n",
        "img/logo.png": PNG,
        "web.conf": b"replicas=1\n",
    }
    assert web.deploy_commands == ("systemctl restart web-staging",)
    assert web.health.commands == ["curl -fsS http://localhost:8080/healthz"]
    assert (web.health.timeout_seconds, web.health.interval_seconds) == (120, 0.5)


def test_binary_files_pass_through_unchanged() -> None:
    web = render(shop_files())["web"]
    assert web.releases[0].files["img/logo.png"] == PNG


def test_image_extraction_sorted_unique_across_kinds() -> None:
    out = render(shop_files())
    assert out["catalogue-db"].images == ("busybox:1.36", "mysql:8")
    assert out["catalogue"].images == ("busybox:1.36", "weaveworksdemos/catalogue:0.3.5")
    assert out["web"].images == ()


def test_pod_images() -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: nginx}]}\n"
    out = render(shop_files(**{"k8s/catalogue.yaml": pod}))
    assert out["catalogue"].images == ("nginx",)


def test_unresolved_placeholder_in_a_file() -> None:
    e = render_error(shop_files(**{"web/index.html": "ok\n<p>{{ colour2 }}</p>\n"}))
    assert (e.file, e.key) == ("web/index.html", "colour2")
    assert e.message == (
        "unresolved placeholder {{ colour2 }} at line 2 (environment 'staging' defines: colour, replicas)"
    )


def test_unresolved_placeholder_in_a_command() -> None:
    files = shop_files(**{"lockstep.yaml": SHOP.replace("web-{{ environment }}", "{{ service }}")})
    e = render_error(files)
    assert (e.file, e.key) == ("lockstep.yaml", "components[2].host.deploy[0]")
    assert "{{ service }}" in e.message


def test_unresolved_placeholder_in_a_kubernetes_manifest() -> None:
    e = render_error(shop_files(**{"k8s/catalogue.yaml": CATALOGUE.replace("replicas }}", "replica }}")}))
    assert (e.file, e.key) == ("k8s/catalogue.yaml", "replica")


def test_values_win_over_builtins() -> None:
    text = SHOP.replace(
        'values: {replicas: "1", colour: green}', "values: {replicas: 1, colour: x, environment: stg}"
    )
    web = render(shop_files(**{"lockstep.yaml": text}))["web"]
    assert web.deploy_commands == ("systemctl restart web-stg",)


@pytest.mark.parametrize(
    ("src", "fragment"),
    [
        ("../outside", "path leaves the repository"),
        ("web/../../etc", "path leaves the repository"),
        ("/etc/passwd", "path leaves the repository"),
        ("nowhere/", "does not exist"),
        ("config/web.conf/", "is a file, not a folder"),
    ],
)
def test_bad_src_paths(src: str, fragment: str) -> None:
    e = render_error(shop_files(**{"lockstep.yaml": SHOP.replace("src: web/", f"src: {src}")}))
    assert (e.file, e.key) == ("lockstep.yaml", "components[2].host.files[0].src")
    assert fragment in e.message


def test_manifests_path_leaving_repository() -> None:
    e = render_error(shop_files(**{"lockstep.yaml": SHOP.replace("k8s/catalogue.yaml", "../k8s.yaml")}))
    assert e.key == "components[1].kubernetes.manifests" and "leaves the repository" in e.message


class SymlinkOut(MemorySourceTree):
    """`web/secret` is a symlink pointing outside the repository."""

    def read(self, path: str) -> bytes:
        if path == "web/secret":
            raise PathOutsideRepository(path)
        return super().read(path)


def test_symlink_leaving_the_repository() -> None:
    source = SymlinkOut(shop_files(**{"web/secret": b""}))
    with pytest.raises(ManifestError) as info:
        render_environment(load_manifest(source), "staging", source, target_types=TYPES)
    assert info.value.key == "components[2].host.files[0].src"
    assert "'web/secret': path leaves the repository" in info.value.message


def test_folder_contents_land_under_dest_and_clashes_are_errors() -> None:
    text = SHOP.replace("src: config/web.conf", "src: other")
    e = render_error(shop_files(**{"lockstep.yaml": text, "other/index.html": "x"}))
    assert e.key == "components[2].host.files[1].src"
    assert "'index.html' under /srv/web comes from both 'web/index.html' and 'other/index.html'" in e.message
    text = SHOP.replace("dest: /srv/web}]", "dest: /etc/web/}]")
    web = render(shop_files(**{"lockstep.yaml": text}))["web"]
    assert [(r.dest, sorted(r.files)) for r in web.releases] == [
        ("/srv/web", ["img/logo.png", "index.html"]),
        ("/etc/web", ["web.conf"]),
    ]


def test_target_type_must_fit_the_component_kind() -> None:
    with pytest.raises(ManifestError) as info:
        render(shop_files(), types={**TYPES, "vms-staging": "kubernetes"})
    assert info.value.key == "components[2].target" and "host component" in info.value.message
    with pytest.raises(ManifestError) as info:
        render(shop_files(), types={**TYPES, "k8s-staging": "ssh"})
    assert info.value.key == "components[0].target"


def test_bound_target_missing_from_server_configuration() -> None:
    types = {k: v for k, v in TYPES.items() if k != "vms-staging"}
    with pytest.raises(ManifestError) as info:
        render(shop_files(), types=types)
    assert info.value.key == "environments[0].targets"
    assert info.value.message == (
        "environment 'staging' binds 'web' to 'vms-staging', "
        "which is not a target in the server configuration"
    )


def test_unknown_environment() -> None:
    with pytest.raises(ManifestError, match=r"no environment 'qa' \(known: staging, production\)"):
        render(shop_files(), env="qa")


@pytest.mark.parametrize(
    ("doc", "key", "fragment"),
    [
        ("kind: Service\nmetadata: {name: x}\n", "document 1", "missing apiVersion"),
        ("apiVersion: v1\nkind: Service\nmetadata: {}\n", "document 1", "missing metadata.name"),
        ("---\n---\n- a list\n", "document 2", "must be a mapping"),
        ("apiVersion: v1\nkind: [\n", "", "invalid YAML at line"),
        (
            CATALOGUE + "---\n" + CATALOGUE.split("---")[0],
            "document 3",
            "duplicate object Deployment/catalogue",
        ),
    ],
)
def test_kubernetes_document_errors(doc: str, key: str, fragment: str) -> None:
    e = render_error(shop_files(**{"k8s/catalogue.yaml": doc}))
    assert (e.file, e.key) == ("k8s/catalogue.yaml", key)
    assert fragment in e.message


def test_folder_without_yaml() -> None:
    files = shop_files()
    files = {p: v for p, v in files.items() if not p.startswith("k8s/catalogue-db/statefulset")}
    e = render_error(files)
    assert e.key == "components[0].kubernetes.manifests" and "no .yaml or .yml files" in e.message


def test_manifest_built_without_the_loader_is_still_checked() -> None:
    manifest = load_manifest(MemorySourceTree(shop_files()))
    broken = Manifest.model_validate(
        {
            **manifest.model_dump(),
            "environments": [{"name": "staging", "targets": {"cluster": "k8s-staging"}}],
        }
    )
    with pytest.raises(ManifestError, match="does not bind"):
        render_environment(broken, "staging", MemorySourceTree(shop_files()), target_types=TYPES)
