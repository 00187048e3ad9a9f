"""The content hash: stable for the same inputs, changed by anything delivered, nothing else."""

from __future__ import annotations

from .test_render import CATALOGUE_DB, PNG, SHOP, render, shop_files


def test_hash_is_stable_and_excludes_nothing_delivered() -> None:
    first, second = render(shop_files()), render(shop_files())
    assert {n: c.content_hash for n, c in first.items()} == {n: c.content_hash for n, c in second.items()}
    assert len({c.content_hash for c in first.values()}) == 3
    base = {n: c.content_hash for n, c in first.items()}

    def changed(**overrides: str | bytes) -> set[str]:
        out = render(shop_files(**overrides))
        return {n for n, c in out.items() if c.content_hash != base[n]}

    assert changed(**{"web/img/logo.png": PNG + b"!"}) == {"web"}
    assert changed(**{"k8s/catalogue-db/statefulset.yaml": CATALOGUE_DB.replace("mysql:8", "mysql:9")}) == {
        "catalogue-db"
    }
    assert changed(**{"lockstep.yaml": SHOP.replace("restart web-", "reload web-")}) == {"web"}
    assert changed(**{"lockstep.yaml": SHOP.replace("interval: 500ms", "interval: 1s")}) == {"web"}
    assert changed(**{"lockstep.yaml": SHOP.replace("timeout: 5m", "timeout: 6m")}) == {"catalogue"}
    # A file outside every src and manifests path changes nothing.
    assert changed(**{"README.md": "docs"}) == set()


def test_value_change_only_affects_components_that_use_it() -> None:
    base = {n: c.content_hash for n, c in render(shop_files()).items()}
    colour = render(shop_files(**{"lockstep.yaml": SHOP.replace("colour: green}", "colour: red}", 1)}))
    assert {n for n, c in colour.items() if c.content_hash != base[n]} == {"web"}
    replicas = render(shop_files(**{"lockstep.yaml": SHOP.replace('replicas: "1"', 'replicas: "2"')}))
    assert {n for n, c in replicas.items() if c.content_hash != base[n]} == {"catalogue", "web"}


def test_environments_differ_only_where_their_values_differ() -> None:
    staging, production = render(shop_files()), render(shop_files(), env="production")
    assert staging["catalogue-db"].content_hash == production["catalogue-db"].content_hash
    assert staging["catalogue"].content_hash != production["catalogue"].content_hash
    assert production["web"].target_name == "vms-prod"
