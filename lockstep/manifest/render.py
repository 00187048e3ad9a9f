"""Rendering one environment of a validated manifest into `RenderedComponent`s.

Owns: resolving `src` and `kubernetes.manifests` paths inside the repository, substituting
`{{ placeholders }}` from the environment's values (plus `application` and `environment`) in
every string a component carries — file contents (unless a mapping says `render: false`),
`dest`, commands, URLs, Kubernetes manifests — and refusing unresolved ones, reading Kubernetes
YAML files (parsed by `loader`), collecting container images and where each object lands (its
namespace, `lockstep.domain.kube_scope`), checking that each component's kind fits the type of its
bound target, bounding how far substitution may grow a file, and the content hash change detection
uses.

Deliberately does not: talk to targets, know commit shas (the hash excludes them so an unchanged
component keeps its hash across commits), interpret Kustomize or Helm, or decide what to deploy
(`lockstep.planning`). Rendered bytes stay in memory; nothing is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockstep.domain.bounds import MAX_RENDERED_FILE_BYTES
from lockstep.domain.errors import ManifestError
from lockstep.domain.kube_scope import DEFAULT_NAMESPACE, declared_scopes, placement
from lockstep.domain.models import HealthSpec, HttpCheck, ReleaseTree, RenderedComponent
from lockstep.domain.source import PathOutsideRepository, SourceTree
from lockstep.manifest.components import ComponentSpec, HealthModel, HostSpec, KubernetesSpec
from lockstep.manifest.destinations import rendered_dest
from lockstep.manifest.loader import check_references, load_kubernetes_documents
from lockstep.manifest.loader import environment as find_environment
from lockstep.manifest.placeholders import (
    RenderTooLarge,
    environment_values,
    substitute,
    unresolved_message,
)
from lockstep.manifest.schema import EnvironmentSpec, Manifest

_TARGET_TYPES_FOR_KIND = {"host": ("local", "ssh"), "kubernetes": ("kubernetes",)}
_KUSTOMIZATION = {"kustomization.yaml", "kustomization.yml", "Kustomization"}


def render_environment(
    manifest: Manifest,
    environment: str,
    source: SourceTree,
    *,
    target_types: Mapping[str, str],
    target_namespaces: Mapping[str, str] | None = None,
    file: str = "lockstep.yaml",
) -> list[RenderedComponent]:
    """Every component of `environment`, in manifest order, with placeholders resolved and hashed.

    `target_types` maps server-config target names to their type ("local", "ssh", "kubernetes");
    `target_namespaces` maps kubernetes targets to their `namespace` (absent: "default").
    """
    check_references(manifest, file=file)  # cheap; guards manifests built without load_manifest
    env = find_environment(manifest, environment, file=file)
    values = environment_values(manifest.application, env.name, env.values)
    renderer = _Renderer(source, file, env, manifest.environments.index(env), values, target_types)
    components = [
        dataclasses.replace(
            renderer.component(i, comp), application=manifest.application, environment=env.name
        )
        for i, comp in enumerate(manifest.components)
    ]
    return _placed(components, target_namespaces or {})


def _placed(
    components: list[RenderedComponent], target_namespaces: Mapping[str, str]
) -> list[RenderedComponent]:
    """Kubernetes components with the namespace each object lands in. The CRDs of every component
    count: a custom kind defined in one component is cluster-scoped or not for all of them."""
    declared = declared_scopes(o for c in components for o in c.objects)
    placed: list[RenderedComponent] = []
    for c in components:
        if c.kind != "kubernetes":
            placed.append(c)
            continue
        namespace = target_namespaces.get(c.target_name, DEFAULT_NAMESPACE)
        where = tuple(placement(o, namespace=namespace, declared=declared) for o in c.objects)
        placed.append(dataclasses.replace(c, target_namespace=namespace, placements=where))
    return placed


def content_hash(payload: object) -> str:
    """sha256 hex of a canonical JSON serialisation (sorted keys, no whitespace)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def container_images(obj: Mapping[str, Any]) -> list[str]:
    """Images named by the pod spec of a Pod, a pod-template workload or a CronJob."""
    pod_specs = [
        _dig(obj, "spec", "template", "spec"),
        _dig(obj, "spec", "jobTemplate", "spec", "template", "spec"),
    ]
    if obj.get("kind") == "Pod":
        pod_specs.append(_dig(obj, "spec"))
    images: list[str] = []
    for spec in pod_specs:
        if not isinstance(spec, dict):
            continue
        for field in ("initContainers", "containers", "ephemeralContainers"):
            containers = spec.get(field)
            for c in containers if isinstance(containers, list) else []:
                if isinstance(c, dict) and isinstance(c.get("image"), str):
                    images.append(c["image"])
    return images


def _dig(obj: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


@dataclass
class _Renderer:
    source: SourceTree
    file: str
    env: EnvironmentSpec
    env_index: int
    values: Mapping[str, str]
    target_types: Mapping[str, str]

    def component(self, i: int, comp: ComponentSpec) -> RenderedComponent:
        target_name = self._target(i, comp)
        health_model = comp.health or HealthModel()
        health = HealthSpec(
            commands=[
                self._fill_command(c, f"components[{i}].health.commands[{k}]")
                for k, c in enumerate(health_model.commands)
            ],
            http=[
                HttpCheck(
                    url=self._fill_command(h.url, f"components[{i}].health.http[{k}].url"),
                    status=h.status,
                    timeout_seconds=h.timeout_seconds,
                )
                for k, h in enumerate(health_model.http)
            ],
            timeout_seconds=health_model.timeout_seconds,
            interval_seconds=health_model.interval_seconds,
        )
        payload: dict[str, object]
        extra: dict[str, Any]
        if comp.host is not None:
            releases, deploy = self._host(i, comp.name, comp.host)
            trees = [
                {
                    "dest": r.dest,
                    "files": sorted((p, hashlib.sha256(b).hexdigest()) for p, b in r.files.items()),
                }
                for r in releases
            ]
            payload = {"kind": "host", "releases": trees, "deploy": list(deploy)}
            extra = {"releases": releases, "deploy_commands": deploy}
        else:
            assert comp.kubernetes is not None  # the schema guarantees exactly one kind section
            objects = self._kubernetes(i, comp.name, comp.kubernetes)
            payload = {"kind": "kubernetes", "objects": list(objects)}
            extra = {
                "objects": objects,
                "images": tuple(sorted({img for o in objects for img in container_images(o)})),
            }
        # Without http checks the hash is what it was before they existed: no needless redeploys.
        payload["health"] = health.model_dump(mode="json", exclude=None if health.http else {"http"})
        return RenderedComponent(
            name=comp.name,
            kind=comp.kind,
            target=comp.target,
            target_name=target_name,
            depends_on=tuple(comp.depends_on),
            content_hash=content_hash(payload),
            health=health,
            **extra,
        )

    def _target(self, i: int, comp: ComponentSpec) -> str:
        env, target_name = self.env.name, self.env.targets[comp.target]  # bound: check_references
        target_type = self.target_types.get(target_name)
        if target_type is None:
            raise ManifestError(
                self.file,
                f"environments[{self.env_index}].targets",
                f"environment '{env}' binds '{comp.target}' to '{target_name}', "
                "which is not a target in the server configuration",
            )
        allowed = _TARGET_TYPES_FOR_KIND[comp.kind]
        if target_type not in allowed:
            raise ManifestError(
                self.file,
                f"components[{i}].target",
                f"component '{comp.name}' is a {comp.kind} component, but environment '{env}' binds "
                f"'{comp.target}' to '{target_name}', a {target_type} target (needs {' or '.join(allowed)})",
            )
        return target_name

    def _host(
        self, i: int, component: str, host: HostSpec
    ) -> tuple[tuple[ReleaseTree, ...], tuple[str, ...]]:
        trees: dict[str, dict[str, bytes]] = {}
        origin: dict[tuple[str, str], str] = {}
        for j, spec in enumerate(host.files):
            key = f"components[{i}].host.files[{j}].src"
            dest = rendered_dest(
                spec, self.env, self.values, file=self.file, key=f"components[{i}].host.files[{j}].dest"
            )
            base, paths, is_folder = self._list(spec.src, key)
            tree = trees.setdefault(dest, {})
            for path in paths:
                self._check_name(path, key, component)
                rel = (
                    (posixpath.relpath(path, base) if base else path)
                    if is_folder
                    else posixpath.basename(path)
                )
                if rel in tree:
                    first = origin[(dest, rel)]
                    message = f"'{rel}' under {dest} comes from both '{first}' and '{path}'"
                    raise ManifestError(self.file, key, message)
                data = self._read(path, key)
                # render: false delivers a template (Vue, Go, Jinja …) exactly as committed.
                tree[rel] = self._render_file(path, data) if spec.render else data
                origin[(dest, rel)] = path
        releases = tuple(ReleaseTree(dest=dest, files=files) for dest, files in trees.items())
        deploy = tuple(
            self._fill_command(c, f"components[{i}].host.deploy[{k}]") for k, c in enumerate(host.deploy)
        )
        return releases, deploy

    def _kubernetes(self, i: int, component: str, spec: KubernetesSpec) -> tuple[dict[str, object], ...]:
        key = f"components[{i}].kubernetes.manifests"
        _, paths, is_folder = self._list(spec.manifests, key)
        if is_folder:
            paths = [
                p
                for p in paths
                if p.endswith((".yaml", ".yml")) and posixpath.basename(p) not in _KUSTOMIZATION
            ]
            if not paths:
                raise ManifestError(self.file, key, f"'{spec.manifests}' contains no .yaml or .yml files")
        objects: list[dict[str, object]] = []
        seen: dict[str, str] = {}
        for path in paths:
            self._check_name(path, key, component)
            try:
                text = self._read(path, key).decode("utf-8")
            except UnicodeDecodeError:
                raise ManifestError(path, "", "a Kubernetes manifest must be UTF-8 text") from None
            for n, obj in load_kubernetes_documents(self._fill_file(text, path), path):
                # the API group, not its version, identifies an object for server-side apply
                group = str(obj["apiVersion"]).rpartition("/")[0]
                kind, ns, name = (
                    obj["kind"],
                    _dig(obj, "metadata", "namespace"),
                    _dig(obj, "metadata", "name"),
                )
                ident = f"{group}/{kind}/{ns or ''}/{name}"
                if ident in seen:
                    raise ManifestError(
                        path, f"document {n}", f"duplicate object {kind}/{name} (also in {seen[ident]})"
                    )
                seen[ident] = path
                objects.append(obj)
        return tuple(objects)

    def _repo_path(self, raw: str, key: str) -> str:
        normal = posixpath.normpath(raw)
        if raw.startswith(("/", "\\")) or normal == ".." or normal.startswith("../"):
            raise ManifestError(
                self.file, key, f"'{raw}': path leaves the repository (paths are relative to its root)"
            )
        return "" if normal == "." else normal

    def _list(self, raw: str, key: str) -> tuple[str, list[str], bool]:
        """(normalised path, files to read, whether it is a folder)."""
        path = self._repo_path(raw, key)
        try:
            if path and self.source.is_file(path):
                if raw.endswith("/"):
                    raise ManifestError(self.file, key, f"'{raw}' is a file, not a folder")
                return path, [path], False
            if self.source.is_dir(path):
                files = self.source.walk(path)
                if files:
                    return path, files, True
        except PathOutsideRepository:
            raise ManifestError(self.file, key, f"'{raw}': path leaves the repository") from None
        except FileNotFoundError as err:  # a dangling symlink inside the folder
            raise ManifestError(self.file, key, f"'{raw}': {err}") from None
        raise ManifestError(self.file, key, f"'{raw}' does not exist in the repository")

    def _check_name(self, path: str, key: str, component: str) -> None:
        """Refuse a file whose name is not UTF-8 (Git stores bytes; the tree keeps undecodable
        ones as surrogates): it could be neither hashed, recorded nor sent over SFTP."""
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            message = (
                f"component '{component}': the file name '{_escaped_path(path)}' is not UTF-8; "
                "Lockstep reads only files whose names are UTF-8 text, so rename it (git mv)"
            )
            raise ManifestError(self.file, key, message) from None

    def _read(self, path: str, key: str) -> bytes:
        try:
            return self.source.read(path)
        except PathOutsideRepository:
            raise ManifestError(
                self.file, key, f"'{path}': path leaves the repository (a symlink points outside it)"
            ) from None
        except FileNotFoundError:
            raise ManifestError(self.file, key, f"'{path}' does not exist in the repository") from None

    def _render_file(self, path: str, data: bytes) -> bytes:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return data  # binary files are delivered as they are
        return self._fill_file(text, path).encode("utf-8")

    def _fill_file(self, text: str, path: str) -> str:
        limit = max(len(text.encode("utf-8")), MAX_RENDERED_FILE_BYTES)
        try:
            # Characters never outnumber bytes: stop early on characters, then check the bytes.
            out: str | None
            out, missing = substitute(text, self.values, max_chars=limit)
        except RenderTooLarge:
            out, missing = None, []
        if out is None or len(out.encode("utf-8")) > limit:
            message = f"substituting placeholders makes it larger than the maximum {_mebibytes(limit)}"
            raise ManifestError(path, "", message)
        if missing:
            name, line = missing[0]
            raise ManifestError(path, name, self._unresolved(name, f" at line {line}", len(missing)))
        return out

    def _fill_command(self, command: str, key: str) -> str:
        out, missing = substitute(command, self.values)
        if missing:
            raise ManifestError(self.file, key, self._unresolved(missing[0][0], "", len(missing)))
        return out

    def _unresolved(self, name: str, where: str, count: int) -> str:
        return unresolved_message(name, where, count, environment=self.env.name, defined=self.env.values)


def _escaped_path(path: str) -> str:
    """`path` printable: bytes that are not UTF-8 (kept as surrogates) shown as `\\xe9`."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates of another origin
        return path.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _mebibytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"
