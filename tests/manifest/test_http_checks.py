"""`health.http` in the manifest: the schema's rules, placeholders in URLs, and the content hash."""

from __future__ import annotations

import pytest

from lockstep.domain.errors import ManifestError
from lockstep.domain.models import HealthSpec, HttpCheck
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest, render_environment

MANIFEST = """\
application: shop
environments:
  - name: staging
    targets: {web: local-test}
    values: {port: "8080"}
components:
  - name: web
    target: web
    host:
      files: [{src: web/, dest: /srv/web}]
    health: HEALTH
"""
FILES = {"web/index.html": "<h1>hi</h1>\n"}


def tree(health: str) -> MemorySourceTree:
    return MemorySourceTree({"lockstep.yaml": MANIFEST.replace("HEALTH", health), **FILES})


def render(health: str) -> HealthSpec:
    source = tree(health)
    [web] = render_environment(load_manifest(source), "staging", source, target_types={"local-test": "local"})
    return web.health


def error_of(health: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        render(health)
    return info.value


def test_http_checks_load_with_defaults_and_placeholders_substitute() -> None:
    health = render(
        '{commands: ["true"], http: [{url: "http://127.0.0.1:{{ port }}/healthz"},'
        ' {url: "https://example.test/ready", status: 204, timeout: 2}], timeout: 2m, interval: 2s}'
    )
    assert health.commands == ["true"]
    assert health.http == [
        HttpCheck(url="http://127.0.0.1:8080/healthz", status=200, timeout_seconds=5.0),
        HttpCheck(url="https://example.test/ready", status=204, timeout_seconds=2.0),
    ]
    assert (health.timeout_seconds, health.interval_seconds) == (120, 2)


@pytest.mark.parametrize(
    ("health", "key", "fragment"),
    [
        ('{http: [{url: "http://x/", expect: 200}]}', "components[0].health.http[0].expect", "unknown key"),
        ('{http: [{url: "ftp://x/"}]}', "components[0].health.http[0].url", "http:// or https://"),
        ('{http: [{url: "localhost:8080/healthz"}]}', "components[0].health.http[0].url", "http://"),
        ('{http: [{url: "http:///nohost"}]}', "components[0].health.http[0].url", "absolute"),
        ("{http: [{status: 200}]}", "components[0].health.http[0].url", "required key 'url'"),
        ('{http: [{url: "http://x/", status: 42}]}', "components[0].health.http[0].status", "100"),
        ('{http: [{url: "http://x/", timeout: soon}]}', "components[0].health.http[0].timeout", "soon"),
        ('{http: "http://x/"}', "components[0].health.http", "list"),
    ],
)
def test_schema_refuses_bad_http_checks_naming_the_key(health: str, key: str, fragment: str) -> None:
    e = error_of(health)
    assert (e.file, e.key) == ("lockstep.yaml", key)
    assert fragment in e.message


def test_unresolved_placeholder_in_url_names_the_key() -> None:
    e = error_of('{http: [{url: "http://{{ host }}/healthz"}]}')
    assert e.key == "components[0].health.http[0].url"
    assert "{{ host }}" in e.message


def test_hash_without_http_checks_is_unchanged_and_with_them_changes() -> None:
    def hash_of(health: str) -> str:
        source = tree(health)
        manifest = load_manifest(source)
        [web] = render_environment(manifest, "staging", source, target_types={"local-test": "local"})
        return web.content_hash

    base = hash_of('{commands: ["true"]}')
    assert hash_of('{commands: ["true"], http: []}') == base
    with_http = hash_of('{commands: ["true"], http: [{url: "http://x/"}]}')
    assert with_http != base
    assert hash_of('{commands: ["true"], http: [{url: "http://x/", status: 204}]}') != with_http


def test_old_health_payloads_still_load() -> None:
    old = HealthSpec.model_validate({"commands": ["true"], "timeout_seconds": 3, "interval_seconds": 1})
    assert old.http == []
