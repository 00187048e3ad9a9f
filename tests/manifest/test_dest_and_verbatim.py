"""Placeholders in `host.files[].dest`, and `render: false` for files delivered verbatim
(docs/manifest.md)."""

from __future__ import annotations

import pytest

from lockstep.domain.errors import ManifestError
from lockstep.domain.models import RenderedComponent
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest, render_environment

from .test_render import render as render_shop
from .test_render import shop_files

MANIFEST = """\
application: shop
environments:
  - name: staging
    targets: {site: local-a}
    values: {tenant: acme, base: /opt}
  - name: production
    targets: {site: PROD_TARGET}
    values: {tenant: globex, base: /opt}
components:
  - name: web
    target: site
    host:
      files: FILES
"""
TYPES = {"local-a": "local", "local-b": "local"}
SOURCES = {
    "web/index.html": "<h1>{{ tenant }}</h1>\n",
    "ui/app.vue": "<template><p>{{ message }}</p></template>\n",
}


def source(files: str, prod_target: str = "local-b") -> MemorySourceTree:
    manifest = MANIFEST.replace("FILES", files).replace("PROD_TARGET", prod_target)
    return MemorySourceTree({"lockstep.yaml": manifest, **SOURCES})


def render(files: str, env: str = "staging", prod_target: str = "local-b") -> RenderedComponent:
    tree = source(files, prod_target)
    [web] = render_environment(load_manifest(tree), env, tree, target_types=TYPES)
    return web


def error_of(files: str, prod_target: str = "local-b") -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load_manifest(source(files, prod_target))  # refused on load, before any environment renders
    return info.value


def test_placeholders_in_dest_are_rendered_per_environment() -> None:
    files = (
        '[{src: web/, dest: "/srv/{{ tenant }}/"},'
        ' {src: ui/, dest: "{{ base }}/{{ environment }}", render: false}]'
    )
    staging, production = render(files), render(files, "production")
    assert [r.dest for r in staging.releases] == ["/srv/acme", "/opt/staging"]
    assert [r.dest for r in production.releases] == ["/srv/globex", "/opt/production"]


def test_an_unresolved_placeholder_in_dest_is_refused_naming_the_key() -> None:
    e = error_of('[{src: web/, dest: "/srv/{{ customer }}"}]')
    assert (e.file, e.key) == ("lockstep.yaml", "components[0].host.files[0].dest")
    assert "{{ customer }}" in e.message and "staging" in e.message and "tenant" in e.message


@pytest.mark.parametrize(
    ("dest", "value", "fragment"),
    [
        ("/srv/{{ v }}", "../etc", "must not contain '..'"),
        ("{{ v }}", "/", "must not be the root folder"),
        ("{{ v }}/web", "srv", "must be an absolute path"),
    ],
)
def test_a_rendered_dest_is_held_to_the_rules_of_a_literal_one(dest: str, value: str, fragment: str) -> None:
    text = MANIFEST.replace("FILES", f'[{{src: web/, dest: "{dest}"}}]').replace("PROD_TARGET", "local-b")
    text = text.replace("values: {tenant: acme, base: /opt}", f'values: {{v: "{value}"}}')
    with pytest.raises(ManifestError) as info:
        load_manifest(MemorySourceTree({"lockstep.yaml": text, **SOURCES}))
    assert info.value.key == "components[0].host.files[0].dest"
    assert fragment in info.value.message and dest in info.value.message


def test_release_folders_are_compared_as_rendered() -> None:
    # One target for both environments: /srv/{{ environment }} is two folders, /srv/{{ base }} one.
    distinct = render('[{src: web/, dest: "/srv/{{ environment }}"}]', prod_target="local-a")
    assert distinct.releases[0].dest == "/srv/staging"
    e = error_of('[{src: web/, dest: "{{ base }}/web"}]', prod_target="local-a")
    assert e.key == "components[0].host.files[0].dest"
    assert "both deliver to /opt/web on target 'local-a'" in e.message


def test_render_false_delivers_files_verbatim_and_still_renders_dest() -> None:
    web = render('[{src: web/, dest: "/srv/{{ tenant }}"}, {src: ui/, dest: /srv/ui, render: false}]')
    site, ui = web.releases
    assert site.files == {"index.html": b"<h1>acme</h1>\n"}
    # `{{ message }}` is no value of the environment, and no error either: it is the template's own.
    assert ui.files == {"app.vue": b"<template><p>{{ message }}</p></template>\n"}
    verbatim_site = render('[{src: web/, dest: "/srv/{{ tenant }}", render: false}]')
    assert verbatim_site.releases[0].dest == "/srv/acme"
    assert verbatim_site.releases[0].files == {"index.html": b"<h1>{{ tenant }}</h1>\n"}


def test_the_content_hash_follows_what_is_delivered() -> None:
    rendered = render("[{src: web/, dest: /srv/web}]")
    verbatim = render("[{src: web/, dest: /srv/web, render: false}]")
    assert rendered.content_hash != verbatim.content_hash  # different bytes land on the host
    # A verbatim file does not depend on the values, so changing them redeploys nothing.
    other_value = source("[{src: web/, dest: /srv/web, render: false}]")
    text = other_value.read("lockstep.yaml").decode().replace("tenant: acme", "tenant: initech")
    tree = MemorySourceTree({"lockstep.yaml": text, **SOURCES})
    [again] = render_environment(load_manifest(tree), "staging", tree, target_types=TYPES)
    assert again.content_hash == verbatim.content_hash
    # A file without placeholders is the same bytes either way: no needless redeploy for the flag.
    plain = MemorySourceTree({"lockstep.yaml": text, "web/index.html": "<h1>static</h1>\n"})
    flagged = MemorySourceTree(
        {"lockstep.yaml": text.replace(", render: false", ""), "web/index.html": "<h1>static</h1>\n"}
    )
    hashes = {
        render_environment(load_manifest(t), "staging", t, target_types=TYPES)[0].content_hash
        for t in (plain, flagged)
    }
    assert len(hashes) == 1


# Computed by the renderer before `dest` placeholders and `render: false` existed: a manifest that
# uses neither must keep these, or every component would redeploy after an upgrade.
HASHES_BEFORE = {
    "staging": {
        "catalogue-db": "815557289f5ccb6ce069b9da3f0e1c20f31fb31f8966ab46720e6300dcb00a86",
        "catalogue": "e5587c1394dceb3ca25070afd1903f6951790d52919d9c86ad8c91d0121d157b",
        "web": "ac5ab4e8ef748b872cf0cc3ef72f00faf856aa7ab0da02c20afd65c0a3db594c",
    },
    "production": {
        "catalogue-db": "815557289f5ccb6ce069b9da3f0e1c20f31fb31f8966ab46720e6300dcb00a86",
        "catalogue": "8f5655023ff1086c8997cc69b4c4b911bfb4bdd4bd235395cfccd03c8b240753",
        "web": "de1c8f9773ad0b32f940bafc5e3a5e0358d469546cfa8741a6911247d62f8d66",
    },
}


@pytest.mark.parametrize("env", sorted(HASHES_BEFORE))
def test_existing_manifests_keep_their_content_hashes(env: str) -> None:
    hashes = {name: c.content_hash for name, c in render_shop(shop_files(), env=env).items()}
    assert hashes == HASHES_BEFORE[env]
