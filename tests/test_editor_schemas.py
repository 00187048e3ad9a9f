"""The JSON Schemas editors use (`schemas/*.json`): fresh, and in agreement with the loader.

Validation runs on the committed files, as an editor would read them, under draft-07 (what
yaml-language-server implements and what the files declare) and under 2020-12 (what pydantic
targets): a manifest the loader accepts passes both, and a wrong one fails both, naming the key
the loader names.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from jsonschema.exceptions import ValidationError

from lockstep.devstack.demo import DEMO_MANIFEST, write_dev_config
from lockstep.domain.errors import ManifestError
from lockstep.domain.source import MemorySourceTree
from lockstep.editor_schemas import DRAFT, FILE_NAMES, SchemaName, render
from lockstep.manifest import Manifest, load_manifest
from lockstep.manifest.loader import format_key
from lockstep.settings import Settings
from tests.manifest.test_properties import valid_manifests
from tests.support.apprepo import three_tier_manifest

ROOT = Path(__file__).resolve().parents[1]
VALIDATORS = [jsonschema.Draft7Validator, jsonschema.Draft202012Validator]


def committed(name: SchemaName) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "schemas" / FILE_NAMES[name]).read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("name", list(SchemaName))
def test_committed_schemas_are_the_generated_ones(name: SchemaName) -> None:
    path = ROOT / "schemas" / FILE_NAMES[name]
    assert path.exists() and path.read_text(encoding="utf-8") == render(name), (
        f"{path.relative_to(ROOT)} is stale: run `make schemas` (python scripts/gen_schemas.py) and commit it"
    )


@pytest.mark.parametrize("name", list(SchemaName))
@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
def test_schemas_are_valid_and_read_alike_in_both_drafts(
    name: SchemaName, validator: type[jsonschema.protocols.Validator]
) -> None:
    document = committed(name)
    assert document["$schema"] == DRAFT
    validator.check_schema(document)
    for node in _nodes(document):
        if "$ref" in node:  # draft-07 ignores a $ref's siblings: only annotations may sit there
            assert set(node) <= {"$ref", "title", "description", "default", "examples"}, node


@pytest.mark.parametrize("name", list(SchemaName))
def test_every_key_has_a_description_for_the_editor_to_show(name: SchemaName) -> None:
    document = committed(name)
    definitions = document["$defs"]

    def described(prop: dict[str, Any]) -> bool:
        refs = [prop.get("$ref"), *(branch.get("$ref") for branch in prop.get("anyOf", []))]
        return "description" in prop or any(
            ref and "description" in definitions[ref.rsplit("/", 1)[-1]] for ref in refs
        )

    undescribed = [
        f"{model}.{key}"
        for model, node in [("(root)", document), *definitions.items()]
        for key, prop in node.get("properties", {}).items()
        if not described(prop)
    ]
    assert undescribed == [], "give these fields a description= in their model"
    assert all("description" in node for node in definitions.values())


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _yaml_blocks() -> list[str]:
    """Every YAML block of the README and the docs."""
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]:
        if page.exists():
            found += re.findall(r"```ya?ml\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    return found


def _doc_examples() -> list[str]:
    """Every YAML block of the docs that is a whole manifest the models accept."""
    found = []
    for block in _yaml_blocks():
        try:
            Manifest.model_validate(yaml.safe_load(block))
        except Exception:
            continue  # a fragment, or a manifest of something the docs show failing
        found.append(block)
    return found


VALID = {
    "demo": DEMO_MANIFEST,
    "three-tier": three_tier_manifest(counters=Path("/tmp/counters")),
    **{f"docs-{i}": text for i, text in enumerate(_doc_examples())},
}


@pytest.mark.parametrize("text", VALID.values(), ids=list(VALID))
@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
def test_manifests_the_loader_accepts_pass_the_schema(
    text: str, validator: type[jsonschema.protocols.Validator]
) -> None:
    load_manifest(MemorySourceTree({"lockstep.yaml": text, "db/x": "", "api/x": "", "web/x": ""}))
    assert _schema_keys(committed(SchemaName.manifest), yaml.safe_load(text), validator) == set()


@settings(max_examples=60, deadline=None)
@given(valid_manifests())
def test_any_manifest_the_models_accept_passes_the_schema(data: dict[str, Any]) -> None:
    Manifest.model_validate(data)
    for validator in VALIDATORS:
        assert _schema_keys(committed(SchemaName.manifest), data, validator) == set()


SHOP = """\
application: shop
environments:
  - name: staging
    targets: {site: local-staging}
    values: {replicas: 3, debug: yes}
  - name: production
    promote_from: staging
    targets: {site: local-production}
    approvals: {required: 2, groups: [release-managers], timeout: 24h}
components:
  - name: db
    target: site
    host: {files: [{src: db/, dest: /srv/db}], deploy: ["true"]}
    health: {timeout: 30, interval: 500ms}
  - name: web
    target: site
    depends_on: [db]
    host: {files: [{src: web/, dest: "{{ base }}/web"}]}
    health: {http: [{url: "http://localhost:8080/healthz", status: 204}]}
"""

# (what is wrong, the change to SHOP, the key the loader names)
WRONG = [
    ("unknown top-level key", ("application: shop", "application: shop\ndeploy_all: true"), "deploy_all"),
    (
        "unknown component key",
        ("    target: site\n    depends_on", "    target: site\n    image: x\n    depends_on"),
        "components[1].image",
    ),
    ("unknown environment key", ("approvals: {", "approval: {"), "environments[1].approval"),
    ("wrong type", ("depends_on: [db]", "depends_on: db"), "components[1].depends_on"),
    ("missing required key", ("  - name: db\n    target: site\n", "  - name: db\n"), "components[0].target"),
    ("invalid duration", ("timeout: 24h", "timeout: soon"), "environments[1].approvals.timeout"),
    ("invalid name", ("name: staging", "name: my staging"), "environments[0].name"),
    ("relative dest", ("dest: /srv/db", "dest: srv/db"), "components[0].host.files[0].dest"),
    (
        "two kind sections",
        ("host: {files: [{src: db/", "kubernetes: {manifests: k8s}\n    host: {files: [{src: db/"),
        "components[0]",
    ),
    ("no kind section", ('    host: {files: [{src: web/, dest: "{{ base }}/web"}]}\n', ""), "components[1]"),
    ("a number as a string", ("required: 2", "required: '2'"), "environments[1].approvals.required"),
    (
        "a boolean as a string",
        ("{src: db/, dest: /srv/db}", "{src: db/, dest: /srv/db, render: 'no'}"),
        "components[0].host.files[0].render",
    ),
    ("a status as a string", ("status: 204", 'status: "204"'), "components[1].health.http[0].status"),
]


def test_the_example_everything_else_breaks_is_valid() -> None:
    load_manifest(MemorySourceTree({"lockstep.yaml": SHOP.replace("{{ base }}", "/srv")}))
    for validator in VALIDATORS:
        assert _schema_keys(committed(SchemaName.manifest), yaml.safe_load(SHOP), validator) == set()


@pytest.mark.parametrize(("change", "key"), [(c, k) for _, c, k in WRONG], ids=[w for w, _, _ in WRONG])
@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
def test_a_wrong_manifest_fails_the_schema_and_the_loader_at_the_same_key(
    change: tuple[str, str], key: str, validator: type[jsonschema.protocols.Validator]
) -> None:
    old, new = change
    assert old in SHOP
    text = SHOP.replace(old, new, 1).replace("{{ base }}", "/srv")

    with pytest.raises(ManifestError) as refused:
        load_manifest(MemorySourceTree({"lockstep.yaml": text}))
    assert refused.value.key == key

    assert key in _schema_keys(committed(SchemaName.manifest), yaml.safe_load(text), validator)


def _schema_keys(
    schema: dict[str, Any], instance: Any, validator: type[jsonschema.protocols.Validator]
) -> set[str]:
    """The keys the schema's errors name, written as the loader writes them."""
    keys: set[str] = set()
    for error in validator(schema).iter_errors(instance):
        keys |= _error_keys(error)
    return keys


def _error_keys(error: ValidationError) -> set[str]:
    path = list(error.absolute_path)
    assert isinstance(error.schema, dict)
    if error.validator in ("anyOf", "oneOf") and error.context:
        # The node, and what is wrong in the branch the value was meant for, as an editor picks
        # it: of the branches of the value's shape (not `null` for a mapping, not an ssh target
        # for `type: local`), the one with the fewest errors.
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        shaped = [
            errors
            for errors in branches.values()
            if not any(e.validator in ("type", "const") and not e.relative_path for e in errors)
        ]
        best = min(shaped or list(branches.values()), key=len)
        return {format_key(path)}.union(*(_error_keys(e) for e in best))
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {})
        return {format_key([*path, k]) for k in instance if k not in known}
    if error.validator == "required" and isinstance(instance, dict):
        assert isinstance(error.validator_value, list)
        return {format_key([*path, k]) for k in error.validator_value if k not in instance}
    return {format_key(path)}


def _server_configs(tmp_path: Path) -> dict[str, Any]:
    """The server configurations the project ships or shows, each as the loader accepts it."""
    dev = write_dev_config(tmp_path / "state", temporal_port=7233, api_listen="127.0.0.1:8000")
    configs = {
        "dev": yaml.safe_load(dev.read_text()),
        "compose": yaml.safe_load((ROOT / "deploy" / "lockstep-server.compose.yaml").read_text()),
    }
    for i, block in enumerate(_yaml_blocks()):
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError:  # an illustrative template (placeholders), not a configuration
            continue
        if isinstance(data, dict) and "targets" in data and "components" not in data:
            try:
                Settings.model_validate(data)
            except Exception:
                continue
            configs[f"docs-{i}"] = data
    return configs


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
def test_server_configs_the_loader_accepts_pass_their_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validator: type[jsonschema.protocols.Validator]
) -> None:
    for variable in [n for n in os.environ if n.upper().startswith("LOCKSTEP_")]:
        monkeypatch.delenv(variable)
    schema = committed(SchemaName.server)
    for name, data in _server_configs(tmp_path).items():
        Settings.model_validate(data)
        assert _schema_keys(schema, data, validator) == set(), name


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
def test_a_wrong_server_config_fails_its_schema_at_the_key(
    tmp_path: Path, validator: type[jsonschema.protocols.Validator]
) -> None:
    data = _server_configs(tmp_path)["dev"]
    data["targets"]["local-staging"]["rooot"] = "/tmp"
    data["drift"] = {"interval": "often"}
    data["deployment"] = {"max_output_bytes": "lots"}

    keys = _schema_keys(committed(SchemaName.server), data, validator)

    assert {"targets.local-staging.rooot", "drift.interval", "deployment.max_output_bytes"} <= keys


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
def test_a_mapping_key_the_models_refuse_is_flagged_on_its_mapping(
    validator: type[jsonschema.protocols.Validator],
) -> None:
    text = SHOP.replace("values: {replicas: 3", 'values: {"my replicas": 3').replace("{{ base }}", "/srv")

    with pytest.raises(ManifestError) as refused:
        load_manifest(MemorySourceTree({"lockstep.yaml": text}))
    assert refused.value.key.startswith("environments[0].values")

    assert "environments[0].values" in _schema_keys(
        committed(SchemaName.manifest), yaml.safe_load(text), validator
    )
