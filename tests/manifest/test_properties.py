"""Property tests for the manifest parser: valid manifests load, unknown keys are always named."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lockstep.domain.errors import ManifestError
from lockstep.domain.source import MemorySourceTree
from lockstep.manifest import load_manifest

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
VALUE_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,8}", fullmatch=True)
TEXT = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), max_size=12)
SCALAR = st.one_of(TEXT, st.integers(-(10**6), 10**6), st.booleans())
KNOWN_KEYS = {
    "application", "environments", "components", "name", "target", "depends_on", "kubernetes", "host",
    "health",
}  # fmt: skip


def as_text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@st.composite
def valid_manifests(draw: st.DrawFn) -> dict[str, Any]:
    logical = draw(st.lists(LABEL, min_size=1, max_size=3, unique=True))
    env_names = draw(st.lists(LABEL, min_size=1, max_size=4, unique=True))
    environments: list[dict[str, Any]] = []
    for i, name in enumerate(env_names):
        env: dict[str, Any] = {
            "name": name,
            # Each environment its own server targets: two environments delivering host files to
            # one target and dest would overwrite each other's releases (refused by the loader).
            "targets": {t: f"{name}-{draw(LABEL)}" for t in logical},
            "values": draw(st.dictionaries(VALUE_NAME, SCALAR, max_size=4)),
        }
        if i and draw(st.booleans()):  # promote only from an earlier environment: never a cycle
            env["promote_from"] = draw(st.sampled_from(env_names[:i]))
        if draw(st.booleans()):
            env["approvals"] = {
                "required": draw(st.integers(0, 5)),
                "timeout": draw(st.sampled_from(["1h", "30m"])),
            }
        environments.append(env)
    names = draw(st.lists(LABEL, min_size=1, max_size=6, unique=True))
    components: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        comp: dict[str, Any] = {"name": name, "target": draw(st.sampled_from(logical))}
        if i:  # depend only on earlier components: acyclic by construction
            comp["depends_on"] = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3))
        if draw(st.booleans()):
            comp["kubernetes"] = {"manifests": f"k8s/{name}"}
        else:
            comp["host"] = {"files": [{"src": f"{name}/", "dest": f"/srv/{name}"}], "deploy": ["true"]}
        if draw(st.booleans()):
            comp["health"] = {
                "commands": ["true"],
                "timeout": draw(st.sampled_from(["5s", "2m", "500ms", 30])),
            }
        components.append(comp)
    return {"application": draw(LABEL), "environments": environments, "components": components}


def load_dict(data: dict[str, Any]) -> Any:
    return load_manifest(MemorySourceTree({"lockstep.yaml": yaml.safe_dump(data)}))


@settings(max_examples=150, deadline=None)
@given(valid_manifests())
def test_any_valid_manifest_loads_and_round_trips(data: dict[str, Any]) -> None:
    m = load_dict(data)
    assert m.application == data["application"]
    assert [e.name for e in m.environments] == [e["name"] for e in data["environments"]]
    assert [c.name for c in m.components] == [c["name"] for c in data["components"]]
    assert [c.depends_on for c in m.components] == [c.get("depends_on", []) for c in data["components"]]
    for env, raw in zip(m.environments, data["environments"], strict=True):
        assert env.targets == raw["targets"]
        assert env.values == {k: as_text(v) for k, v in raw["values"].items()}
        assert env.promote_from == raw.get("promote_from")


UNKNOWN_KEY = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S"]), min_size=1, max_size=12
).filter(lambda k: k not in KNOWN_KEYS)


@settings(max_examples=150, deadline=None)
@given(valid_manifests(), UNKNOWN_KEY, SCALAR, st.data())
def test_an_unknown_key_is_always_named(
    data: dict[str, Any], key: str, value: Any, draw: st.DataObject
) -> None:
    where = draw.draw(st.sampled_from(["top", *range(len(data["components"]))]))
    if where == "top":
        data[key] = value
        expected_key = key
    else:
        data["components"][where][key] = value
        expected_key = f"components[{where}].{key}"
    try:
        load_dict(data)
    except ManifestError as e:
        assert e.key == expected_key
        assert f"unknown key '{key}'" in str(e)
    else:
        raise AssertionError(f"unknown key {key!r} was accepted")
