"""Every duration, count and size in lockstep.yaml has a bound; a value past it names key and bound."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from lockstep.domain import bounds
from lockstep.domain.errors import ManifestError
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import Manifest, load_manifest, render_environment

BASE: dict[str, Any] = {
    "application": "shop",
    "environments": [
        {"name": "staging", "targets": {"site": "local-test"}, "values": {"greeting": "hi"}},
        {
            "name": "production",
            "targets": {"site": "local-prod"},
            "approvals": {"required": 1, "groups": ["release-managers"], "timeout": "24h"},
        },
    ],
    "components": [
        {"name": "db", "target": "site", "host": {"files": [{"src": "db/", "dest": "/srv/db"}]}},
        {
            "name": "web",
            "target": "site",
            "depends_on": ["db"],
            "host": {"files": [{"src": "web/", "dest": "/srv/web"}], "deploy": ["true"]},
            "health": {
                "commands": ["true"],
                "http": [{"url": "http://localhost:8080/healthz", "timeout": "5s"}],
                "timeout": "2m",
                "interval": "1s",
            },
        },
    ],
}
FILES = {"db/schema.sql": "create table t (id int);\n", "web/index.html": "<h1>{{ greeting }}</h1>\n"}


def manifest(**changes: Any) -> dict[str, Any]:
    """BASE with `changes` applied at dotted paths ('components.1.health.timeout')."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return data


def load(data: dict[str, Any], files: dict[str, str] | None = None) -> Manifest:
    return load_manifest(MemorySourceTree({"lockstep.yaml": yaml.safe_dump(data), **(files or FILES)}))


def error_of(data: dict[str, Any]) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load(data)
    return info.value


def test_the_base_manifest_is_within_every_bound() -> None:
    assert load(manifest()).application == "shop"


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (
            {"environments.1.approvals.timeout": "3000000d"},
            "environments[1].approvals.timeout",
            "3000000d is longer than the maximum 14d",
        ),
        (
            {"components.1.health.timeout": "3000000d"},
            "components[1].health.timeout",
            "3000000d is longer than the maximum 6h",
        ),
        (
            {"components.1.health.timeout": 10**12},  # a bare number is seconds
            "components[1].health.timeout",
            "1000000000000s is longer than the maximum 6h",
        ),
        ({"components.1.health.interval": "11m"}, "components[1].health.interval", "maximum 10m"),
        ({"components.1.health.interval": "10ms"}, "components[1].health.interval", "minimum 100ms"),
        ({"components.1.health.interval": 0}, "components[1].health.interval", "minimum 100ms"),
        (
            {"components.1.health.http.0.timeout": "1h"},
            "components[1].health.http[0].timeout",
            "1h is longer than the maximum 5m",
        ),
        ({"environments.1.approvals.timeout": "0s"}, "environments[1].approvals.timeout", "minimum 1s"),
    ],
)
def test_a_duration_past_its_bound_is_refused_naming_key_and_bound(
    change: dict[str, Any], key: str, message: str
) -> None:
    e = error_of(manifest(**change))
    assert (e.file, e.key) == ("lockstep.yaml", key)
    assert message in e.message


def test_an_interval_written_longer_than_the_timeout_is_refused() -> None:
    e = error_of(manifest(**{"components.1.health.timeout": "5s", "components.1.health.interval": "10s"}))
    assert e.key == "components[1].health.interval"
    assert "10s is longer than the health timeout 5s" in e.message


def test_the_default_interval_under_a_short_timeout_is_not_the_users_mistake() -> None:
    data = manifest()
    data["components"][1]["health"] = {"commands": ["true"], "timeout": "1s"}  # default interval 2s
    health = load(data).components[1].health
    assert health is not None and health.timeout_seconds == 1


def _components(n: int) -> list[dict[str, Any]]:
    return [
        {"name": f"c{i}", "target": "site", "host": {"files": [{"src": "db/", "dest": f"/srv/c{i}"}]}}
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("change", "key", "maximum"),
    [
        ({"components": _components(bounds.MAX_COMPONENTS + 1)}, "components", bounds.MAX_COMPONENTS),
        (
            {"environments": [{"name": f"e{i}", "targets": {"site": f"t{i}"}} for i in range(51)]},
            "environments",
            bounds.MAX_ENVIRONMENTS,
        ),
        (
            {"environments.0.values": {f"v{i}": "x" for i in range(bounds.MAX_VALUES + 1)}},
            "environments[0].values",
            bounds.MAX_VALUES,
        ),
        (
            {"components.1.depends_on": [f"c{i}" for i in range(bounds.MAX_DEPENDS_ON + 1)]},
            "components[1].depends_on",
            bounds.MAX_DEPENDS_ON,
        ),
        (
            {"components.1.host.deploy": ["true"] * (bounds.MAX_COMMANDS + 1)},
            "components[1].host.deploy",
            bounds.MAX_COMMANDS,
        ),
        (
            {"components.1.health.commands": ["true"] * (bounds.MAX_COMMANDS + 1)},
            "components[1].health.commands",
            bounds.MAX_COMMANDS,
        ),
        (
            {"components.1.host.files": [{"src": "web/", "dest": f"/srv/w{i}"} for i in range(101)]},
            "components[1].host.files",
            bounds.MAX_FILE_MAPPINGS,
        ),
        (
            {"components.1.health.http": [{"url": "http://localhost/"}] * (bounds.MAX_HTTP_CHECKS + 1)},
            "components[1].health.http",
            bounds.MAX_HTTP_CHECKS,
        ),
    ],
)
def test_a_count_past_its_bound_is_refused_naming_key_and_bound(
    change: dict[str, Any], key: str, maximum: int
) -> None:
    e = error_of(manifest(**change))
    assert e.key == key
    assert f"more entries than the maximum {maximum}" in e.message


def test_more_approvals_than_the_bound_are_refused() -> None:
    e = error_of(manifest(**{"environments.1.approvals.required": bounds.MAX_APPROVALS_REQUIRED + 1}))
    assert e.key == "environments[1].approvals.required"
    assert str(bounds.MAX_APPROVALS_REQUIRED) in e.message


@pytest.mark.parametrize(
    ("path", "key", "maximum"),
    [
        ("components.1.host.deploy.0", "components[1].host.deploy[0]", bounds.MAX_COMMAND_CHARS),
        ("components.1.health.commands.0", "components[1].health.commands[0]", bounds.MAX_COMMAND_CHARS),
        ("environments.0.values.greeting", "environments[0].values.greeting", bounds.MAX_VALUE_CHARS),
        ("environments.0.branch", "environments[0].branch", bounds.MAX_NAME_CHARS),
        ("components.1.host.files.0.src", "components[1].host.files[0].src", bounds.MAX_PATH_CHARS),
    ],
)
def test_a_string_past_its_bound_is_refused_naming_key_and_bound(path: str, key: str, maximum: int) -> None:
    e = error_of(manifest(**{path: "x" * (maximum + 1)}))
    assert e.key == key
    assert f"is {maximum + 1} characters long; the maximum is {maximum}" in e.message


def test_a_long_url_is_refused() -> None:
    url = "http://localhost/" + "a" * bounds.MAX_URL_CHARS
    e = error_of(manifest(**{"components.1.health.http.0.url": url}))
    assert e.key == "components[1].health.http[0].url"
    assert f"the maximum is {bounds.MAX_URL_CHARS}" in e.message


def test_placeholders_cannot_grow_a_file_past_the_rendering_bound() -> None:
    # 4,000 short placeholders times a 64 KiB value: about 256 MB if rendered; refused while rendering.
    value = "x" * bounds.MAX_VALUE_CHARS
    files = {**FILES, "web/index.html": "{{ greeting }}\n" * 4000}
    source = MemorySourceTree(
        {"lockstep.yaml": yaml.safe_dump(manifest(**{"environments.0.values.greeting": value})), **files}
    )
    with pytest.raises(ManifestError) as info:
        render_environment(load_manifest(source), "staging", source, target_types={"local-test": "local"})
    assert info.value.file == "web/index.html"
    assert "larger than the maximum 16 MiB" in info.value.message


def test_a_large_file_without_placeholders_is_not_refused_for_its_size() -> None:
    big = "y" * (bounds.MAX_RENDERED_FILE_BYTES + 10)  # the Git reader bounds file sizes, not this
    source = MemorySourceTree({"lockstep.yaml": yaml.safe_dump(manifest()), **FILES, "web/big.txt": big})
    [_, web] = render_environment(
        load_manifest(source), "staging", source, target_types={"local-test": "local"}
    )
    assert len(web.releases[0].files["big.txt"]) == len(big)
