"""Benchmark: make_plan over 10,000 components and 30,000 dependency edges.

Builds a seeded random DAG of synthetic `host` components (each depends on 3 random earlier ones),
a live state in which about 10% of content hashes differ, then times `make_plan` (best and median
of 5 runs) and measures its peak memory with tracemalloc. Prints figures; asserts nothing.

Run from the repository root: `.venv/bin/python bench/plan_scale.py`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lockstep.domain.models import DeployedRevision, HealthSpec, RenderedComponent
from lockstep.planning.plan import make_plan

COMPONENTS = 10_000
DEPS_PER_COMPONENT = 3
CHANGED_FRACTION = 0.10
RUNS = 5
TARGET_SECONDS = 0.5
SEED = 20240607


def build(rng: random.Random) -> tuple[list[RenderedComponent], dict[str, DeployedRevision]]:
    health = HealthSpec()
    names = [f"host-{i:05d}" for i in range(COMPONENTS)]
    components: list[RenderedComponent] = []
    deployed: dict[str, DeployedRevision] = {}
    for i, name in enumerate(names):
        # The first few nodes cannot have 3 distinct earlier dependencies; they get what exists,
        # and the edge count below is what was actually built.
        deps = tuple(names[j] for j in rng.sample(range(i), min(i, DEPS_PER_COMPONENT)))
        content_hash = f"{i:064x}"
        components.append(
            RenderedComponent(
                name=name,
                kind="host",
                target="web",
                target_name="vms-staging",
                depends_on=deps,
                content_hash=content_hash,
                health=health,
            )
        )
        live_hash = f"{i + 1:064x}" if rng.random() < CHANGED_FRACTION else content_hash
        deployed[name] = DeployedRevision(
            component=name, commit=f"{i:040x}", content_hash=live_hash, deployment_id="bench"
        )
    return components, deployed


def main() -> None:
    components, deployed = build(random.Random(SEED))
    edges = sum(len(c.depends_on) for c in components)
    changed = sum(deployed[c.name].content_hash != c.content_hash for c in components)

    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        plan = make_plan(components, deployed)
        timings.append(time.perf_counter() - started)

    tracemalloc.start()
    make_plan(components, deployed)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(
        f"plan_scale: {len(components)} components, {edges} edges: "
        f"best {min(timings):.2f} s, median {statistics.median(timings):.2f} s "
        f"(target < {TARGET_SECONDS} s); peak memory {peak / 2**20:.1f} MiB; "
        f"{changed} changed, planned {len(plan.components)} components in {len(plan.waves)} waves"
    )


if __name__ == "__main__":
    main()
