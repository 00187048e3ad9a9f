"""load_manifest: the schema, YAML problems and the cross-section rules of docs/manifest.md."""

from __future__ import annotations

import pytest

from lockstep.domain.errors import CycleError, ManifestError
from lockstep.domain.source import MemorySourceTree, PathOutsideRepository
from lockstep.manifest import environment, load_manifest

SHOP = """\
application: shop
environments:
  - name: staging
    branch: main
    targets: {cluster: k8s-staging, web: vms-staging}
    values: {replicas: "1"}
  - name: production
    branch: main
    promote_from: staging
    targets: {cluster: k8s-prod, web: vms-prod}
    approvals: {required: 2, groups: [release-managers], timeout: 24h}
    values: {replicas: "3"}
components:
  - name: catalogue-db
    target: cluster
    kubernetes: {manifests: k8s/catalogue-db}
  - name: catalogue
    target: cluster
    depends_on: [catalogue-db]
    kubernetes: {manifests: k8s/catalogue}
    health: {timeout: 5m}
  - name: web
    target: web
    depends_on: [catalogue]
    host:
      files: [{src: web/, dest: /srv/web}]
      deploy: ["systemctl restart web"]
    health: {commands: ["curl -fsS http://localhost:8080/healthz"], timeout: 2m}
"""


def load(text: str) -> object:
    return load_manifest(MemorySourceTree({"lockstep.yaml": text}))


def error_of(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load(text)
    return info.value


def test_spec_example_loads_with_defaults() -> None:
    m = load_manifest(MemorySourceTree({"lockstep.yaml": SHOP}))
    assert m.application == "shop"
    assert [e.name for e in m.environments] == ["staging", "production"]
    assert [c.name for c in m.components] == ["catalogue-db", "catalogue", "web"]
    staging, production = m.environments
    assert staging.promote_from is None and staging.approvals is None
    assert production.promote_from == "staging"
    assert production.approvals is not None
    assert production.approvals.required == 2
    assert production.approvals.timeout_seconds == 24 * 3600
    web = m.components[2]
    assert web.kind == "host" and m.components[0].kind == "kubernetes"
    assert web.host is not None and web.host.files[0].dest == "/srv/web"
    assert web.health is not None and web.health.timeout_seconds == 120
    assert web.health.interval_seconds == 2


def test_unknown_key_names_the_key_and_where() -> None:
    e = error_of(SHOP.replace("    health: {timeout: 5m}\n", "    health: {timeout: 5m}\n    healthz: 1\n"))
    assert (e.file, e.key) == ("lockstep.yaml", "components[1].healthz")
    assert str(e) == "lockstep.yaml: components[1].healthz: unknown key 'healthz'"


def test_unknown_top_level_key() -> None:
    e = error_of(SHOP + "colour: blue\n")
    assert e.key == "colour" and "unknown key 'colour'" in e.message


def test_unknown_depends_on_names_component_and_reference() -> None:
    e = error_of(SHOP.replace("depends_on: [catalogue]", "depends_on: [catalog]"))
    assert e.key == "components[2].depends_on[0]"
    assert "'web'" in e.message and "'catalog'" in e.message


def test_self_dependency() -> None:
    e = error_of(SHOP.replace("depends_on: [catalogue]", "depends_on: [web]"))
    assert e.key == "components[2].depends_on[0]" and "depends on itself" in e.message


def test_dependency_cycle_is_named() -> None:
    text = SHOP.replace(
        "    kubernetes: {manifests: k8s/catalogue-db}",
        "    depends_on: [web]\n    kubernetes: {manifests: k8s/catalogue-db}",
    )
    e = error_of(text)
    assert e.key == "components"
    assert e.message == "dependency cycle: catalogue-db -> web -> catalogue -> catalogue-db"
    assert isinstance(e.__cause__, CycleError)


def test_target_not_bound_in_an_environment() -> None:
    e = error_of(SHOP.replace("targets: {cluster: k8s-prod, web: vms-prod}", "targets: {cluster: k8s-prod}"))
    assert e.key == "environments[1].targets"
    assert e.message == "component 'web' uses target 'web', which environment 'production' does not bind"


def test_promote_from_unknown_self_and_cycle() -> None:
    e = error_of(SHOP.replace("promote_from: staging", "promote_from: qa"))
    assert e.key == "environments[1].promote_from" and "'qa'" in e.message
    e = error_of(SHOP.replace("promote_from: staging", "promote_from: production"))
    assert e.key == "environments[1].promote_from" and "itself" in e.message
    e = error_of(
        SHOP.replace(
            "    branch: main\n    targets: {cluster: k8s-staging",
            "    promote_from: production\n    targets: {cluster: k8s-staging",
        )
    )
    assert e.key == "environments" and "promotion cycle" in e.message
    assert "staging" in e.message and "production" in e.message


def test_duplicate_names() -> None:
    e = error_of(SHOP.replace("- name: catalogue\n", "- name: catalogue-db\n"))
    assert e.key == "components[1].name" and "duplicate name 'catalogue-db'" in e.message


def test_component_needs_exactly_one_kind() -> None:
    e = error_of(SHOP.replace("    kubernetes: {manifests: k8s/catalogue-db}\n", ""))
    assert e.key == "components[0]" and "neither" in e.message
    both = SHOP.replace(
        "kubernetes: {manifests: k8s/catalogue-db}", "kubernetes: {manifests: k}\n    host: {}"
    )
    e = error_of(both)
    assert e.key == "components[0]" and "both" in e.message


@pytest.mark.parametrize(
    ("old", "new", "key", "fragment"),
    [
        ("application: shop", "application: Shop_1", "application", "invalid application name"),
        ("timeout: 5m", "timeout: soon", "components[1].health.timeout", "invalid duration 'soon'"),
        ("required: 2", "required: -1", "environments[1].approvals.required", "greater than or equal to 0"),
        ("dest: /srv/web", "dest: srv/web", "components[2].host.files[0].dest", "absolute"),
        ("dest: /srv/web", "dest: /srv/../etc", "components[2].host.files[0].dest", "'..'"),
        ("depends_on: [catalogue]", "depends_on: catalogue", "components[2].depends_on", "expected a list"),
        ("- name: web\n    target: web", "- name: web", "components[2].target", "required key 'target'"),
        ('values: {replicas: "1"}', "values: {replicas: [1]}", "environments[0].values.replicas", "string"),
        # A name ending in a newline would show as another environment's (ids, tables, policy).
        ("- name: staging", '- name: "staging\\n"', "environments[0].name", "invalid name"),
        ("application: shop", 'application: "shop\\n"', "application", "invalid application name"),
        ("- name: web\n", '- name: "web\\n"\n', "components[2].name", "invalid name"),
    ],
)
def test_schema_errors_name_key_and_cause(old: str, new: str, key: str, fragment: str) -> None:
    assert old in SHOP
    e = error_of(SHOP.replace(old, new, 1))
    assert e.key == key
    assert fragment in e.message


def test_scalar_values_are_stored_as_text_and_numbers_as_durations() -> None:
    text = SHOP.replace('values: {replicas: "1"}', "values: {replicas: 1, debug: yes, ratio: 0.5}")
    text = text.replace("timeout: 5m", "timeout: 90")
    m = load_manifest(MemorySourceTree({"lockstep.yaml": text}))
    assert m.environments[0].values == {"replicas": "1", "debug": "true", "ratio": "0.5"}
    assert m.components[1].health is not None and m.components[1].health.timeout_seconds == 90


def test_several_errors_are_all_mentioned() -> None:
    e = error_of(SHOP.replace("timeout: 5m", "timeout: x").replace("required: 2", "required: -1"))
    assert "and 1 more" in e.message and "timeout" in str(e)


def test_missing_file() -> None:
    with pytest.raises(ManifestError) as info:
        load_manifest(MemorySourceTree({"README.md": "hi"}))
    assert (info.value.file, info.value.key) == ("lockstep.yaml", "")
    assert info.value.message == "no lockstep.yaml at the repository root"


def test_manifest_symlink_leaving_repository() -> None:
    class Escaping(MemorySourceTree):
        def read(self, path: str) -> bytes:
            raise PathOutsideRepository(path)

    with pytest.raises(ManifestError, match="leaves the repository"):
        load_manifest(Escaping({}))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("application: shop\ncomponents: [\n", "invalid YAML at line 3"),
        ("application: shop\napplication: other\n", "duplicate key 'application'"),
        ("", "empty"),
        ("- a\n", "must be a mapping"),
    ],
)
def test_yaml_problems(text: str, fragment: str) -> None:
    assert fragment in error_of(text).message


def test_yaml_merge_keys_still_work() -> None:
    text = SHOP.replace(
        "  - name: staging\n    branch: main\n", "  - &base\n    name: staging\n    branch: main\n"
    )
    text = text.replace("  - name: production\n    branch: main\n", "  - <<: *base\n    name: production\n")
    m = load_manifest(MemorySourceTree({"lockstep.yaml": text}))
    assert m.environments[1].name == "production"


def test_environment_lookup() -> None:
    m = load_manifest(MemorySourceTree({"lockstep.yaml": SHOP}))
    assert environment(m, "production").name == "production"
    with pytest.raises(ManifestError) as info:
        environment(m, "qa")
    assert info.value.key == "environments"
    assert info.value.message == "no environment 'qa' (known: staging, production)"


def test_two_components_on_one_target_and_dest_are_refused() -> None:
    manifest = """\
application: shop
environments: [{name: staging, targets: {site: local-dev}}]
components:
  - {name: one, target: site, host: {files: [{src: one/, dest: /srv/app}]}}
  - {name: two, target: site, host: {files: [{src: two/, dest: /srv/app/}]}}
"""
    with pytest.raises(ManifestError) as caught:
        load_manifest(MemorySourceTree({"lockstep.yaml": manifest}))
    message = str(caught.value)
    assert "components[1].host.files[0].dest" in message and "/srv/app" in message and "'one'" in message


def test_two_environments_on_one_target_and_dest_are_refused() -> None:
    manifest = """\
application: shop
environments:
  - {name: staging, targets: {site: shared-vm}}
  - {name: production, targets: {site: shared-vm}}
components:
  - {name: web, target: site, host: {files: [{src: web/, dest: /srv/web}]}}
"""
    with pytest.raises(ManifestError) as caught:
        load_manifest(MemorySourceTree({"lockstep.yaml": manifest}))
    assert "'staging'" in str(caught.value) and "'production'" in str(caught.value)
    assert "shared-vm" in str(caught.value)
