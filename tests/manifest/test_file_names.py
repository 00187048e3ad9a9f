"""File names that are not UTF-8 (Git stores bytes; `GitTree` keeps undecodable ones as
surrogates): a component that would read one is refused, naming the file with the bad bytes
escaped; a Kubernetes folder's other files are not read, so their names do not matter.
The same through `lockstep plan` on a real repository: tests/cli/test_plan_errors.py."""

from __future__ import annotations

import os

from tests.manifest.test_render import render, render_error, shop_files

BAD = os.fsdecode(b"caf\xe9")  # b"caf\xe9" as Git's listing gives it: "caf\udce9"


def test_a_host_file_with_a_non_utf8_name_is_refused() -> None:
    e = render_error(shop_files(**{f"web/{BAD}.html": "x"}))
    assert (e.file, e.key) == ("lockstep.yaml", "components[2].host.files[0].src")
    assert e.message.startswith("component 'web': the file name 'web/caf\\xe9.html' is not UTF-8")
    str(e).encode("utf-8")  # the message itself prints anywhere


def test_a_kubernetes_manifest_with_a_non_utf8_name_is_refused() -> None:
    e = render_error(shop_files(**{f"k8s/catalogue-db/{BAD}.yaml": "kind: x\n"}))
    assert e.key == "components[0].kubernetes.manifests"
    assert "component 'catalogue-db'" in e.message and "'k8s/catalogue-db/caf\\xe9.yaml'" in e.message


def test_a_file_no_component_reads_may_have_any_name() -> None:
    out = render(shop_files(**{f"k8s/catalogue-db/{BAD}.md": "notes", f"docs/{BAD}.txt": "x"}))
    assert set(out) == {"catalogue-db", "catalogue", "web"}
