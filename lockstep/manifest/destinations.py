"""Where host components deliver: each `dest` rendered per environment, and who owns which folder.

Lockstep owns everything under a `dest`: releases go to `<dest>/releases/<commit>`, old ones are
pruned, `<dest>/current` is replaced (`lockstep.targets.releases`). So, on one server target:
- one folder has one owner: releases are named by commit, and two components, or two
  environments, delivering to the same dest would overwrite each other's;
- no dest lies inside another: the outer one's pruning and switching would delete the inner one's
  releases while the history still shows them live.
One component may still list several `files` entries with the same dest: they merge into one
release. Dests are compared as rendered (`/srv/{{ environment }}` is a different folder in each
environment) and normalised (`/srv/web/` is `/srv/web`); a `local` target maps every dest under
its root, so the same rule holds there. Kubernetes components have no dest and are not compared.

Deliberately does not: know the server configuration, so two targets that reach the same machine
(two `local` targets sharing a root, two `ssh` targets listing one host), or another application
delivering to the same target, are beyond what a manifest can see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lockstep.domain.errors import ManifestError
from lockstep.manifest.components import FileSpec
from lockstep.manifest.placeholders import environment_values, unresolved_message
from lockstep.manifest.schema import EnvironmentSpec, Manifest
from lockstep.manifest.syntax import UnresolvedDest

_WHY = "Lockstep prunes and replaces what is under a dest, so two dests on one target may not nest"


def rendered_dest(
    spec: FileSpec, env: EnvironmentSpec, values: Mapping[str, str], *, file: str, key: str
) -> str:
    """`spec.dest` in `env` (placeholders substituted from `values`); ManifestError under `key` if a
    placeholder is unresolved or the result is not a valid dest (absolute, no `..`, not `/`)."""
    try:
        return spec.rendered_dest(values)
    except UnresolvedDest as e:
        name, count = e.missing[0][0], len(e.missing)
        message = unresolved_message(name, "", count, environment=env.name, defined=env.values)
        raise ManifestError(file, key, message) from None
    except ValueError as e:
        raise ManifestError(file, key, f"{e} (rendered from '{spec.dest}' in '{env.name}')") from None


@dataclass(frozen=True)
class _Delivery:
    key: str  # components[i].host.files[j].dest
    component: str
    environment: str


def check_destinations(manifest: Manifest, *, file: str) -> None:
    """ManifestError, keyed at the offending `dest`, if two components or environments share a
    release folder on one target, or one dest lies inside another there."""
    owners: dict[tuple[str, str], _Delivery] = {}  # (server target, dest) -> first delivery there
    for env in manifest.environments:
        values = environment_values(manifest.application, env.name, env.values)
        for i, comp in enumerate(manifest.components):
            if comp.host is None:
                continue
            for j, spec in enumerate(comp.host.files):
                key = f"components[{i}].host.files[{j}].dest"
                folder = (env.targets[comp.target], rendered_dest(spec, env, values, file=file, key=key))
                here = _Delivery(key, comp.name, env.name)
                first = owners.setdefault(folder, here)
                if (first.component, first.environment) != (comp.name, env.name):
                    raise ManifestError(
                        file,
                        key,
                        f"component '{comp.name}' in environment '{env.name}' and component "
                        f"'{first.component}' in environment '{first.environment}' both deliver to "
                        f"{folder[1]} on target '{folder[0]}'; give each its own dest, or each "
                        "environment its own target",
                    )
    folders = list(owners)
    nested = nested_folders(folders)
    if not nested:
        return
    # Of all the nested dests, report the one met first in manifest order, so a fix-and-retry
    # walks through them predictably.
    inner = min(nested)
    (target, dest), (_, outer_dest) = folders[inner], folders[nested[inner]]
    this, outer = owners[folders[inner]], owners[folders[nested[inner]]]
    raise ManifestError(
        file,
        this.key,
        f"{dest} (component '{this.component}', environment '{this.environment}', target '{target}') "
        f"lies inside {outer_dest}, the dest of {outer.key} (component '{outer.component}', "
        f"environment '{outer.environment}'); {_WHY}",
    )


def nested_folders(folders: Sequence[tuple[str, str]]) -> dict[int, int]:
    """For each folder lying inside another on the same target: its index -> the index of its
    nearest container. `folders` are distinct (target, normalised absolute path) pairs."""
    # Sorted by `path + "/"`, a folder's containers all come before it, and every folder between
    # a container and it lies in that container too; so a stack of the open containers, popped
    # when the next folder leaves them, finds each nearest container in one pass. Comparing
    # ancestors by walking up each path instead would cost the square of a long rendered dest.
    order = sorted(range(len(folders)), key=lambda n: (folders[n][0], folders[n][1] + "/"))
    found: dict[int, int] = {}
    open_: list[int] = []
    for n in order:
        target, path = folders[n]
        while open_ and not _inside(folders[open_[-1]], target, path):
            open_.pop()
        if open_:
            found[n] = open_[-1]
        open_.append(n)
    return found


def _inside(outer: tuple[str, str], target: str, path: str) -> bool:
    return outer[0] == target and path.startswith(outer[1] + "/")
