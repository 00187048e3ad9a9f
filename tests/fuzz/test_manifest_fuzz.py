"""Fuzzing the manifest loader and renderer: whatever the text, values or files, the answer is a
Manifest, rendered components, or a ManifestError (CycleError where cycles are concerned); never
RecursionError, MemoryError, ValueError or any other crash."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from lockstep.domain.errors import CycleError, ManifestError
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest, render_environment
from lockstep.manifest.loader import load_kubernetes_documents
from tests.fuzz.budget import fuzz
from tests.fuzz.yaml_text import documents, dumped, flow_nodes, mutated

SHOP = """\
application: shop
environments:
  - &staging {name: staging, branch: main, targets: {cluster: k8s, web: vms}, values: {replicas: "1"}}
  - {<<: *staging, name: production, promote_from: staging, approvals: {required: 1, timeout: 2h}}
components:
  - name: api
    target: cluster
    kubernetes: {manifests: k8s/}
  - name: web
    target: web
    depends_on: [api]
    host:
      files: [{src: web/, dest: /srv/web}]
      deploy: ["systemctl restart web-{{ environment }}"]
    health: {commands: ["curl -fsS localhost"], timeout: 2m, interval: 500ms}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {env: "{{ environment }}"}}
spec:
  replicas: {{ replicas }}
  template: {spec: {containers: [{name: api, image: "reg/api:1.0"}]}}
"""
TYPES = {"k8s": "kubernetes", "vms": "ssh"}


def load(text: str | bytes) -> None:
    with contextlib.suppress(ManifestError):  # anything else fails the test
        load_manifest(MemorySourceTree({"lockstep.yaml": text}))


def load_kubernetes(text: str) -> None:
    try:
        load_kubernetes_documents(text, "k8s/x.yaml")
    except ManifestError as e:
        assert e.file == "k8s/x.yaml"


@fuzz(max_examples=150)
@given(documents())
def test_generated_yaml(text: str) -> None:
    load(text)
    load_kubernetes(text)


@fuzz(max_examples=150)
@given(st.one_of(mutated(SHOP), mutated(DEPLOYMENT)))
def test_mutated_valid_documents(text: str) -> None:
    load(text)
    load_kubernetes(text)


@fuzz(max_examples=50)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_lockstep_yaml(raw: bytes) -> None:
    load(raw)


PLACEHOLDER_TEXT = st.lists(
    st.one_of(st.characters(codec="utf-8"), st.sampled_from(["{{ replicas }}", "{{", "}}", "\n", ": "])),
    max_size=20,
).map("".join)
PATHS = st.sampled_from(
    ["web/", "web", "k8s/", "k8s/deployment.yaml", "", ".", "..", "../x", "/etc", "web/../..", "web//",
     "web/./index.html", "missing/", "k8s/deployment.yaml/", "web/index.html"]
)  # fmt: skip


def mostly(valid: Any, other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` three times in four, so most examples get as far as rendering."""
    return st.one_of(st.just(valid), st.just(valid), st.just(valid), other)


@st.composite
def renders(draw: st.DrawFn) -> tuple[str, dict[str, str | bytes]]:
    name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
    values = draw(st.dictionaries(name, PLACEHOLDER_TEXT, max_size=3))
    values["replicas"] = draw(PLACEHOLDER_TEXT)  # named by the manifest, so always substituted
    web = {
        "name": "web",
        "target": "web",
        "depends_on": draw(mostly(["api"], st.lists(st.sampled_from(["api", "web", "ghost"]), max_size=2))),
        "host": {
            "files": [{"src": draw(mostly("web/", PATHS)), "dest": "/srv/web"}],
            "deploy": [draw(mostly("restart {{ replicas }}", PLACEHOLDER_TEXT))],
        },
    }
    data: dict[str, Any] = {
        "application": "shop",
        "environments": [
            {
                "name": "staging",
                "branch": "main",
                "targets": {"cluster": "k8s", "web": "vms"},
                "values": values,
            }
        ],
        "components": [
            {"name": "api", "target": "cluster", "kubernetes": {"manifests": draw(mostly("k8s/", PATHS))}},
            web,
        ],
    }
    kube = draw(mostly(DEPLOYMENT, st.one_of(mutated(DEPLOYMENT), flow_nodes().map(lambda n: f"x: {n}\n"))))
    files: dict[str, str | bytes] = {
        "lockstep.yaml": dumped(data),
        "k8s/deployment.yaml": kube,
        "k8s/kustomization.yaml": "resources: [deployment.yaml]\n",
        "web/index.html": draw(st.one_of(PLACEHOLDER_TEXT, st.binary(max_size=40))),
    }
    return "staging", files


@fuzz(max_examples=150)
@given(renders())
def test_render_environment_over_random_values_paths_and_files(
    case: tuple[str, dict[str, str | bytes]],
) -> None:
    environment, files = case
    source = MemorySourceTree(files)
    try:
        manifest = load_manifest(source)
        components = render_environment(manifest, environment, source, target_types=TYPES)
    except (ManifestError, CycleError) as e:
        event(f"refused: {str(e).split(':')[0]} {getattr(e, 'key', '')[:30]}")
        return
    event("rendered")
    assert [c.name for c in components] == ["api", "web"]
