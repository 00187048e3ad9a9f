"""Print every cycle between the project's packages; exit 1 if there is one.

`python scripts/import_cycles.py` (part of `make lint`). The import graph is grimp's (the one
`lint-imports` checks), with every import counted, including those inside functions. Each of
`workflows`, `activities` and `workers` is one node, and so is each child of `lockstep`
(`lockstep.store`, `lockstep.settings`, ...): a cycle is a set of such packages each reachable
from the others, printed with one import that closes each step. Imports within a package are
its own business and not reported. `--graph` prints the package-level dependencies too.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent

ROOTS = ("lockstep", "workflows", "activities", "workers")
SPLIT = "lockstep"  # the root whose children are nodes of their own


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == SPLIT and len(parts) > 1 else parts[0]


def package_imports(graph: grimp.ImportGraph) -> dict[str, dict[str, tuple[str, str]]]:
    """For each package, the packages it imports, each with one module-level import that does."""
    edges: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            source, target = package_of(importer), package_of(imported)
            if source != target and imported.split(".")[0] in ROOTS:
                edges[source].setdefault(target, (importer, imported))
    return edges


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(edges) | {t for targets in edges.values() for t in targets}):
        if node not in index:
            visit(node)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", action="store_true", help="print the package-level dependencies")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # the checkout's own code, whatever the venv's install points at
    edges = package_imports(grimp.build_graph(*ROOTS))
    if args.graph:
        for source in sorted(edges):
            print(f"{source} -> {', '.join(sorted(edges[source]))}")
    found = cycles(edges)
    for component in found:
        print(f"cycle between {', '.join(component)}:")
        members = set(component)
        for source in component:
            for target, (importer, imported) in sorted(edges[source].items()):
                if target in members:
                    print(f"  {source} -> {target} ({importer} imports {imported})")
    packages = len(set(edges) | {t for targets in edges.values() for t in targets})
    print(f"{len(found)} cycle(s) between {packages} packages")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
