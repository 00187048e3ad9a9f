"""Loading `lockstep.yaml` from one commit's source tree into a validated `Manifest`.

Owns: reading the file, parsing YAML (duplicate keys are errors), turning pydantic errors into
`ManifestError(file, key, message)` with readable keys such as `components[2].depends_on[0]`, and
the checks that span sections: `depends_on` references, dependency cycles, promotion chains,
every component's target being bound in every environment, and (through `destinations`) host
dests that share or nest inside each other's folders on one target.

Also parses Kubernetes YAML documents into objects (apiVersion, kind and metadata.name checked),
so that every YAML error in the package is reported the same way.

Deliberately does not: read the files a component names or substitute placeholders (`render`)
— except in a host file mapping's `dest`, which `destinations` renders per environment to compare
release folders and to refuse an unresolved placeholder there before anything else happens —, know the
server configuration's targets (`render` receives their types), or plan waves
(`lockstep.planning`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from lockstep.domain.errors import CycleError, ManifestError
from lockstep.domain.limits import KUBERNETES_FILE_MAX_BYTES, MANIFEST_MAX_BYTES, file_too_large
from lockstep.domain.source import PathOutsideRepository, SourceTree
from lockstep.manifest.boundedyaml import BoundedSafeLoader, YamlBoundExceeded
from lockstep.manifest.destinations import check_destinations
from lockstep.manifest.schema import KEYED_ERROR, EnvironmentSpec, Manifest
from lockstep.planning.graph import find_cycle


def load_manifest(source: SourceTree, *, file: str = "lockstep.yaml") -> Manifest:
    """Read, parse and validate the manifest at the root of `source`; ManifestError on any problem."""
    try:
        size = source.size(file)  # before reading: a Git tree knows it from its listing
        if size > MANIFEST_MAX_BYTES:
            raise file_too_large(file, size, MANIFEST_MAX_BYTES, file)
        raw = source.read(file)
    except FileNotFoundError:
        raise ManifestError(file, "", f"no {file} at the repository root") from None
    except PathOutsideRepository:
        raise ManifestError(file, "", "path leaves the repository (a symlink points outside it)") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(file, "", f"not UTF-8 text (byte {e.start})") from None
    data = _parse_yaml(text, file)
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as e:
        raise _to_manifest_error(e, file) from None
    check_references(manifest, file=file)
    return manifest


def environment(manifest: Manifest, name: str, *, file: str = "lockstep.yaml") -> EnvironmentSpec:
    """The environment called `name`; ManifestError listing the known ones otherwise."""
    for env in manifest.environments:
        if env.name == name:
            return env
    known = ", ".join(e.name for e in manifest.environments)
    raise ManifestError(file, "environments", f"no environment '{name}' (known: {known})")


def check_references(manifest: Manifest, *, file: str = "lockstep.yaml") -> None:
    """The cross-section rules of docs/manifest.md that the schema alone cannot express."""
    names = {c.name for c in manifest.components}
    for i, comp in enumerate(manifest.components):
        seen: set[str] = set()
        for j, dep in enumerate(comp.depends_on):
            key = f"components[{i}].depends_on[{j}]"
            if dep == comp.name:
                raise ManifestError(file, key, f"component '{comp.name}' depends on itself")
            if dep not in names:
                raise ManifestError(
                    file, key, f"component '{comp.name}' depends on unknown component '{dep}'"
                )
            if dep in seen:
                raise ManifestError(file, key, f"component '{comp.name}' lists '{dep}' twice")
            seen.add(dep)
    cycle = find_cycle({c.name: list(c.depends_on) for c in manifest.components})
    if cycle:
        error = CycleError(cycle)
        raise ManifestError(file, "components", str(error)) from error

    promotions = {e.name: [e.promote_from] if e.promote_from else [] for e in manifest.environments}
    cycle = find_cycle(promotions)
    if cycle:
        # promote_from points at the source environment; show the flow of commits instead
        shown = " -> ".join(reversed(cycle))
        raise ManifestError(file, "environments", f"promotion cycle: {shown}")

    for i, env in enumerate(manifest.environments):
        for comp in manifest.components:
            if comp.target not in env.targets:
                raise ManifestError(
                    file,
                    f"environments[{i}].targets",
                    f"component '{comp.name}' uses target '{comp.target}', "
                    f"which environment '{env.name}' does not bind",
                )
    check_destinations(manifest, file=file)


class _StrictLoader(BoundedSafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of silently keeping the last one."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may be overridden on purpose
            continue
        key = loader.construct_object(key_node, deep=True)
        problem = None if isinstance(key, Hashable) else "found an unhashable key"
        problem = problem or (f"duplicate key '{key}'" if key in seen else None)
        if problem:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, problem, key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=True))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str, file: str) -> Any:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except YamlBoundExceeded as e:
        raise _bound_error(e, file, "") from None
    except yaml.YAMLError as e:
        raise _yaml_error(e, file) from None
    if data is None:
        raise ManifestError(file, "", "the file is empty")
    if not isinstance(data, dict):
        raise ManifestError(file, "", f"the top level must be a mapping, not {_yaml_type(data)}")
    return data


class _KubeLoader(BoundedSafeLoader):
    """SafeLoader without implicit timestamps: `2024-01-01` stays a string, as the API server sees it."""


_KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_kubernetes_documents(text: str, path: str) -> list[tuple[int, dict[str, object]]]:
    """(1-based document number, object) for each non-empty document of a Kubernetes YAML file.

    Each object must be a mapping with apiVersion, kind and metadata.name; nothing else is checked.
    """
    if len(text) > KUBERNETES_FILE_MAX_BYTES:  # characters, a lower bound on the UTF-8 size
        raise file_too_large(path, len(text), KUBERNETES_FILE_MAX_BYTES, "a Kubernetes manifest file")
    try:
        docs = list(yaml.load_all(text, Loader=_KubeLoader))  # a SafeLoader subclass
    except YamlBoundExceeded as e:
        raise _bound_error(e, path, f"document {e.document}") from None
    except yaml.YAMLError as e:
        raise _yaml_error(e, path) from None
    out: list[tuple[int, dict[str, object]]] = []
    for n, doc in enumerate(docs, 1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError(
                path, f"document {n}", f"a Kubernetes object must be a mapping, not {_yaml_type(doc)}"
            )
        missing = [f for f in ("apiVersion", "kind") if not isinstance(doc.get(f), str) or not doc[f]]
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            missing.append("metadata.name")
        if missing:
            raise ManifestError(path, f"document {n}", f"missing {', '.join(missing)}")
        out.append((n, {str(k): v for k, v in doc.items()}))
    return out


def _yaml_error(error: yaml.YAMLError, file: str) -> ManifestError:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return ManifestError(file, "", f"invalid YAML{where}: {error.problem or error.context}")
    return ManifestError(file, "", f"invalid YAML: {error}")


def _bound_error(error: YamlBoundExceeded, file: str, document: str) -> ManifestError:
    """A bound passed, keyed by where it happened: `environments[0].values` or `document 2: data`."""
    shown = 8  # enough to find the place; a 100-level path would drown the message
    key = format_key(error.path[:shown]) + ("..." if len(error.path) > shown else "")
    if document:
        key = f"{document}: {key}" if key else document
    mark = error.problem_mark
    where = f" (line {mark.line + 1})" if mark else ""
    return ManifestError(file, key, f"refused: {error.problem}{where}")


def _to_manifest_error(error: ValidationError, file: str) -> ManifestError:
    problems = [_describe(d) for d in error.errors()]
    key, message = problems[0]
    if len(problems) > 1:
        more = "; ".join(f"{k}: {m}" if k else m for k, m in problems[1:6])
        extra = ", ..." if len(problems) > 6 else ""
        message = f"{message} (and {len(problems) - 1} more: {more}{extra})"
    return ManifestError(file, key, message)


def _describe(detail: ErrorDetails) -> tuple[str, str]:
    """(readable key, cause) for one pydantic error."""
    loc = detail["loc"]
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    if kind == KEYED_ERROR:
        return str(ctx["key"]), str(ctx["message"])
    key_error = bool(loc) and loc[-1] == "[key]"  # a dict key, not its value, is invalid
    key = format_key([p for p in loc if p != "[key]"])
    got = _yaml_type(detail.get("input"))
    if kind == "extra_forbidden":
        message = f"unknown key '{loc[-1]}'"
    elif kind == "missing":
        message = f"required key '{loc[-1]}' is missing"
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        message = f"expected a mapping, got {got}"
    elif kind == "list_type":
        message = f"expected a list, got {got}"
    elif kind == "string_type":
        message = f"expected a string, got {got}"
    elif kind == "too_short":
        message = f"needs at least {ctx.get('min_length', 1)} entry, got {ctx.get('actual_length', 0)}"
    elif kind in ("too_long", "string_too_long") and isinstance(detail.get("input"), str):
        message = f"is {len(detail['input'])} characters long; the maximum is {ctx.get('max_length')}"
    elif kind == "too_long":
        got_count = f", got {ctx['actual_length']}" if ctx.get("actual_length") else ""
        message = f"has more entries than the maximum {ctx.get('max_length')}{got_count}"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        message = f"expected a whole number, got {got}"
    else:
        message = detail["msg"].removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
    if key_error:
        message = f"invalid key: {message}"
    return key, message


def format_key(loc: Sequence[int | str]) -> str:
    """('components', 2, 'depends_on', 0) -> 'components[2].depends_on[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _yaml_type(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
