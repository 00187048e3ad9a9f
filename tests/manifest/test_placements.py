"""render_environment places every Kubernetes object: its namespace, the target's, or none; host
components carry their release folders and commands as rendered."""

from __future__ import annotations

from lockstep.domain.models import PlannedObject
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest, render_environment

MANIFEST = """\
application: shop
environments:
  - name: staging
    targets: {cluster: k8s-staging, web: vms-staging}
    values: {jobs: shop-jobs}
components:
  - name: crds
    target: cluster
    kubernetes: {manifests: k8s/crds.yaml}
  - name: catalogue
    target: cluster
    kubernetes: {manifests: k8s/catalogue.yaml}
  - name: web
    target: web
    host:
      files: [{src: web/, dest: "/srv/{{ environment }}"}]
      deploy: ["systemctl restart web-{{ environment }}"]
    health: {commands: ["curl -fsS http://localhost/{{ environment }}"]}
"""
CRDS = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: clusterwidgets.example.com}
spec: {group: example.com, scope: Cluster, names: {kind: ClusterWidget, plural: clusterwidgets}}
"""
CATALOGUE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalogue}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup, namespace: "{{ jobs }}"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: catalogue-admin}
---
apiVersion: example.com/v1
kind: ClusterWidget
metadata: {name: w}
"""
FILES = {
    "lockstep.yaml": MANIFEST,
    "k8s/crds.yaml": CRDS,
    "k8s/catalogue.yaml": CATALOGUE,
    "web/index.html": "hi",
}
TYPES = {"k8s-staging": "kubernetes", "vms-staging": "ssh"}


def test_objects_land_where_the_cluster_will_put_them() -> None:
    source = MemorySourceTree(FILES)
    out = render_environment(
        load_manifest(source),
        "staging",
        source,
        target_types=TYPES,
        target_namespaces={"k8s-staging": "shop"},
    )
    crds, catalogue, web = out
    assert crds.target_namespace == "shop"
    assert crds.placements == (
        PlannedObject(
            apiVersion="apiextensions.k8s.io/v1",
            kind="CustomResourceDefinition",
            namespace=None,
            name="clusterwidgets.example.com",
        ),
    )
    assert [(p.kind, p.namespace, p.name) for p in catalogue.placements] == [
        ("Deployment", "shop", "catalogue"),
        ("CronJob", "shop-jobs", "cleanup"),  # rendered, and its own namespace wins
        ("ClusterRoleBinding", None, "catalogue-admin"),
        ("ClusterWidget", None, "w"),  # the CRD in another component says it is cluster-scoped
    ]
    assert web.target_namespace is None and web.placements == ()
    assert web.dests == ["/srv/staging"]
    assert web.commands == ["systemctl restart web-staging", "curl -fsS http://localhost/staging"]
    assert catalogue.dests == [] and catalogue.commands == []


def test_placements_are_not_content() -> None:
    """A target's namespace is server configuration: changing it plans no redeploy by itself."""
    source = MemorySourceTree(FILES)
    manifest = load_manifest(source)
    here = render_environment(manifest, "staging", source, target_types=TYPES)
    there = render_environment(
        manifest, "staging", source, target_types=TYPES, target_namespaces={"k8s-staging": "elsewhere"}
    )
    assert here[1].placements[0].namespace == "default"  # a target without a namespace setting
    assert there[1].placements[0].namespace == "elsewhere"
    assert [c.content_hash for c in here] == [c.content_hash for c in there]
