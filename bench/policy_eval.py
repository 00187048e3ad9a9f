"""Benchmark: one embedded `evaluate_deploy` over the default bundle (policies/).

A realistic input: 10 Kubernetes components in 3 waves, each with one tagged image, a production
deployment inside the change window. After a warm-up (which compiles the bundle), times 2,000
evaluations and prints p50 and p99 in milliseconds (wall clock) and the p50 of the thread's CPU
time. Target p50 < 2 ms. Prints figures; asserts nothing.

Run from the repository root: `.venv/bin/python bench/policy_eval.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lockstep.domain.models import CommitInfo, Plan, PlannedComponent
from lockstep.domain.status import ComponentAction
from lockstep.policy.embedded import EmbeddedPolicyEngine
from lockstep.policy.input import deploy_input

COMPONENTS = 10
WARMUP = 200
RUNS = 2_000
TARGET_P50_MS = 2.0
BUNDLE = Path(__file__).resolve().parent.parent / "policies"


def realistic_input() -> dict[str, object]:
    components = [
        PlannedComponent(
            name=f"service-{i:02d}",
            kind="kubernetes",
            target="k8s-prod",
            action=ComponentAction.UPDATE,
            reason="content changed",
            content_hash=f"{i:064x}",
            images=[f"registry.example.com/shop/service-{i:02d}:1.{i}.0"],
        )
        for i in range(COMPONENTS)
    ]
    names = [c.name for c in components]
    plan = Plan(components=components, waves=[names[:3], names[3:7], names[7:]])
    commit = CommitInfo(
        sha="9f2c1e7b4a3d5f6e8c0b1a2d3e4f5a6b7c8d9e0f",
        author="Ada Lovelace",
        author_email="ada@example.com",
        message="Bump service images\n\nRelease train 2026-47.",
        timestamp="2026-11-23T09:41:00+01:00",
    )
    return deploy_input(
        application="shop",
        environment="production",
        commit=commit,
        trigger="webhook",
        actor=None,
        plan=plan,
        approvals=[{"approver": "grace", "at": "2026-11-23T09:50:00Z"}],
        now="2026-11-23T10:00:00Z",
    )


def main() -> None:
    engine = EmbeddedPolicyEngine(BUNDLE)
    document = realistic_input()
    for _ in range(WARMUP):
        decision = engine.evaluate_deploy(document)
    timings, cpu = [], []
    for _ in range(RUNS):
        start, start_cpu = time.perf_counter(), time.thread_time()
        engine.evaluate_deploy(document)
        timings.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(
        f"policy_eval: embedded evaluate_deploy, {COMPONENTS} components, {RUNS} runs after {WARMUP} warm-up"
    )
    print(f"  decision: denied={decision.denied} approvals_required={decision.approvals_required}")
    print(f"  p50 {p50:.3f} ms   p99 {p99:.3f} ms   (target p50 < {TARGET_P50_MS} ms)")
    # CPU time of this thread: tells a slow evaluation from one that waited for a core.
    print(f"  cpu p50 {statistics.median(cpu):.3f} ms")


if __name__ == "__main__":
    main()
