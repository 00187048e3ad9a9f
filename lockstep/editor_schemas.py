"""The JSON Schemas of `lockstep.yaml` and of the server configuration, for editors.

Owns turning the pydantic models (`lockstep.manifest.schema.Manifest`, `lockstep.settings.Settings`)
into the documents `lockstep schema manifest|server` prints and `schemas/*.json` commits, byte for
byte the same: the titles, descriptions, examples, patterns and bounds all come from the models'
field definitions, so an editor running yaml-language-server completes and checks what the
loader checks, in the loader's words where a description can carry them.

The documents declare JSON Schema draft-07 — what yaml-language-server validates with — and use
nothing that reads differently under 2020-12 (what pydantic targets): definitions sit under
`$defs`, which draft-07 reaches through plain JSON pointers, and no `$ref` has a sibling that
validates (draft-07 would ignore it).

Deliberately does not: validate anything. The loader stays the authority: references between
sections (`depends_on`, targets bound in every environment), cycles, the range of a duration
written as text and file sizes are beyond a JSON Schema, and are checked when the file is read.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

DRAFT = "http://json-schema.org/draft-07/schema#"


class SchemaName(StrEnum):
    manifest = "manifest"
    server = "server"


# The committed file of each schema, under `schemas/` at the repository root.
FILE_NAMES = {
    SchemaName.manifest: "lockstep.schema.json",
    SchemaName.server: "lockstep-server.schema.json",
}

_ABOUT = {
    SchemaName.manifest: (
        "lockstep.yaml",
        "The Lockstep application manifest, lockstep.yaml at the root of an application's "
        "repository: environments, components and the order they deploy in.",
    ),
    SchemaName.server: (
        "lockstep-server.yaml",
        "The Lockstep server configuration (the file LOCKSTEP_CONFIG names): Temporal, database, "
        "API, policy, repositories, targets and users. Every value can be overridden by a "
        "LOCKSTEP_* environment variable.",
    ),
}


def schema(name: SchemaName) -> dict[str, Any]:
    """The JSON Schema called `name`, as a JSON-ready mapping."""
    if name is SchemaName.manifest:
        from lockstep.manifest.schema import Manifest

        generated = Manifest.model_json_schema(mode="validation")
    else:
        from lockstep.settings import Settings

        generated = Settings.model_json_schema(mode="validation")
    _key_patterns_as_property_names(generated)
    title, description = _ABOUT[name]
    # `$schema` first, then what an editor shows about the file, then the rest as pydantic orders it.
    return {"$schema": DRAFT, "title": title, "description": description} | {
        k: v for k, v in generated.items() if k not in ("title", "description")
    }


def _key_patterns_as_property_names(node: Any) -> None:
    """Pydantic writes a mapping whose keys have a pattern as `patternProperties`, which lets a key
    that breaks the pattern through unchecked; the models refuse it, so the schema should too:
    the pattern goes to `propertyNames`, the values' schema to `additionalProperties`."""
    if isinstance(node, list):
        for child in node:
            _key_patterns_as_property_names(child)
    if not isinstance(node, dict):
        return
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "additionalProperties" not in node:
        [(pattern, values)] = patterns.items()
        del node["patternProperties"]
        node["additionalProperties"] = values
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
    for child in node.values():
        _key_patterns_as_property_names(child)


def render(name: SchemaName) -> str:
    """The text of the schema called `name`: what the command prints and `schemas/` holds."""
    return json.dumps(schema(name), indent=2) + "\n"
