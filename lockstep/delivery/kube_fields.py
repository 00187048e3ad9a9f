"""Comparing a Kubernetes object field by field over the fields a manifest sets, and showing it.

Lockstep owns the fields its manifests set, so only those are compared: what the cluster adds
(status, defaults, `metadata.uid` …, annotations other tools write, list items' defaulted keys)
is never a difference. `changed_fields` names each differing field by its path
(`spec.replicas`, `spec.template.spec.containers[0].image`, `metadata.labels["app.kubernetes.io/name"]`);
`projected` keeps only the manifest's fields of an object, and `yaml_diff` is the unified diff of
two such projections as YAML with sorted keys.

Secrets: the API server writes `stringData` into `data` (base64) and never returns it, so a
Secret is compared with its `stringData` folded into `data` (`folded`), and a changed value is
named by the key the manifest used (`stringData.password`). `masked` replaces a Secret's values
by `***` before anything is shown, the desired side saying per key whether it changed
(`*** (changed)`).

Pure: no client, no I/O. Deliberately does not decide created / deleted (`kubernetes_live`).
"""

from __future__ import annotations

import base64
import copy
import difflib
import re
from collections.abc import Mapping
from typing import Any

import yaml

# What the API server writes and owns: never compared, even when a manifest carries them.
SERVER_METADATA = frozenset(
    {"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"}
)
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_MISSING = object()


def owned(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without what the server owns (`status`, server-written metadata)."""
    body = {k: v for k, v in manifest.items() if k != "status"}
    meta = body.get("metadata")
    if isinstance(meta, Mapping):
        body["metadata"] = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
    return body


def changed_fields(
    manifest: Mapping[str, Any], expected: Mapping[str, Any], live: Mapping[str, Any]
) -> list[str]:
    """Paths of the manifest's fields where `live` differs from `expected` (what applying the
    manifest leaves: a dry-run's answer, or the manifest itself). A list whose length differs is
    one changed field; a field `live` lacks is changed. Secrets are compared folded."""
    found: list[str] = []
    _walk(owned(folded(manifest)), folded(expected), folded(live), "", found)
    plain = manifest.get("stringData") if is_secret(manifest) else None
    if isinstance(plain, Mapping):  # name a value by the key the manifest gave it
        return [_string_data_path(path, plain) for path in found]
    return found


def is_secret(obj: Mapping[str, Any] | None) -> bool:
    return obj is not None and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def folded(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret with its `stringData` written into `data`, base64-encoded, as the API server
    stores it (`stringData` wins over `data`); any other object as it is."""
    if not is_secret(obj) or not isinstance(obj.get("stringData"), Mapping):
        return dict(obj)
    body = {k: v for k, v in obj.items() if k != "stringData"}
    encoded = {k: base64.b64encode(str(v).encode()).decode() for k, v in obj["stringData"].items()}
    body["data"] = {**(obj.get("data") or {}), **encoded}
    return body


def _string_data_path(path: str, plain: Mapping[str, Any]) -> str:
    for key in plain:
        if path == _join("data", str(key)):
            return _join("stringData", str(key))
    return path


def masked(obj: Mapping[str, Any], against: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`obj` with a Secret's `data` and `stringData` values replaced by `***`, or by
    `*** (changed)` where `against` (the live side of a diff) has the key with another value, so
    a diff shows which keys change and never a value. Any other kind is returned as it is."""
    if not is_secret(obj):
        return dict(obj)
    body = copy.deepcopy(dict(obj))
    theirs = (folded(against).get("data") or {}) if against is not None else {}
    ours = folded(obj).get("data") or {}
    for field in ("data", "stringData"):
        values = body.get(field)
        if isinstance(values, Mapping):
            body[field] = {
                key: "*** (changed)" if key in theirs and theirs[key] != ours.get(key) else "***"
                for key in values
            }
    return body


def _walk(shape: Any, expected: Any, live: Any, path: str, found: list[str]) -> None:
    if isinstance(shape, Mapping) and isinstance(expected, Mapping) and isinstance(live, Mapping):
        for key, sub in shape.items():
            _walk(sub, expected.get(key, _MISSING), live.get(key, _MISSING), _join(path, str(key)), found)
        return
    if isinstance(shape, list) and isinstance(expected, list) and isinstance(live, list):
        if len(expected) != len(live):
            found.append(path)
            return
        for i, (e, v) in enumerate(zip(expected, live, strict=True)):
            _walk(shape[i] if i < len(shape) else e, e, v, f"{path}[{i}]", found)
        return
    if expected != live:
        found.append(path)


def projected(obj: Mapping[str, Any] | None, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` cut down to the manifest's fields (list items past the manifest's are kept whole);
    a Secret folded, both of them, so its values appear under `data`."""
    if obj is None:
        return {}
    result = _project(folded(obj), owned(folded(manifest)))
    return result if isinstance(result, dict) else {}


def _project(value: Any, shape: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(shape, Mapping):
        return {k: _project(value[k], shape[k]) for k in shape if k in value}
    if isinstance(value, list) and isinstance(shape, list):
        return [_project(v, shape[i]) if i < len(shape) else v for i, v in enumerate(value)]
    return value


def yaml_diff(before: Mapping[str, Any], after: Mapping[str, Any], *, subject: str) -> str:
    """Unified diff of two objects as YAML (sorted keys), `live/<subject>` to `desired/<subject>`;
    an empty side (nothing there) diffs from or to no lines."""
    old = _yaml(before).splitlines(keepends=True)
    new = _yaml(after).splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, fromfile=f"live/{subject}", tofile=f"desired/{subject}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _yaml(obj: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False) if obj else ""


def _join(path: str, key: str) -> str:
    part = key if _PLAIN_KEY.match(key) else f'["{key}"]'
    if not path:
        return part
    return f"{path}{part}" if part.startswith("[") else f"{path}.{part}"
