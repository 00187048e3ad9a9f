"""The default bundle against real manifests from Argo CD's example apps (../shared/realworld)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lockstep.domain.models import CommitInfo, Plan, PlannedComponent
from lockstep.domain.status import ComponentAction
from lockstep.manifest.render import container_images
from lockstep.policy.embedded import EmbeddedPolicyEngine
from lockstep.policy.input import deploy_input
from tests.policy.conftest import DEFAULT_BUNDLE, MONDAY

EXAMPLES = (Path(__file__).resolve().parents[2] / "../shared/realworld/argocd-example-apps").resolve()


def plan_from(folder: Path) -> Plan:
    """One planned component per workload in the folder's YAML, with the images it names."""
    if not folder.is_dir():
        pytest.skip(f"../shared/realworld absent ({folder} does not exist)")
    components = []
    for file in sorted(folder.glob("*.yaml")):
        for obj in yaml.safe_load_all(file.read_text()):
            images = container_images(obj) if isinstance(obj, dict) else []
            if images:
                components.append(
                    PlannedComponent(
                        name=str(obj["metadata"]["name"]),
                        kind="kubernetes",
                        target="k8s-prod",
                        action=ComponentAction.UPDATE,
                        reason="content changed",
                        content_hash="0" * 64,
                        images=images,
                    )
                )
    return Plan(components=components, waves=[[c.name for c in components]])


def evaluate(plan: Plan) -> list[str]:
    commit = CommitInfo(sha="f" * 40, author="a", author_email="a@example.com", message="x", timestamp=MONDAY)
    document = deploy_input(
        application="shop",
        environment="production",
        commit=commit,
        trigger="promotion",
        actor=None,
        plan=plan,
        approvals=[],
        now=MONDAY,
    )
    return EmbeddedPolicyEngine(DEFAULT_BUNDLE).evaluate_deploy(document).deny


def test_sock_shop_untagged_mongo_denied_in_production() -> None:
    plan = plan_from(EXAMPLES / "sock-shop/base")
    assert len(plan.components) >= 10
    deny = evaluate(plan)
    assert 'component "carts-db": image "mongo" has no tag; production needs a pinned tag' in deny
    assert 'component "orders-db": image "mongo" has no tag; production needs a pinned tag' in deny
    assert all("weaveworksdemos/front-end:0.3.12" not in r for r in deny)


def test_guestbook_tagged_image_allowed() -> None:
    plan = plan_from(EXAMPLES / "guestbook")
    assert plan.components[0].images == ["gcr.io/google-samples/gb-frontend:v5"]
    assert evaluate(plan) == []
