"""The embedded (regopy) engine over the default bundle: every rule, configuration, failing closed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from lockstep.policy.embedded import EmbeddedPolicyEngine
from lockstep.policy.engine import make_policy_engine
from lockstep.policy.input import input_sha256
from lockstep.settings import PolicySettings
from tests.policy.conftest import DEFAULT_BUNDLE, SATURDAY, make_input

DIGEST = "sha256:" + "0123abcd" * 8


@pytest.fixture(scope="module")
def engine() -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(DEFAULT_BUNDLE)


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("mongo", 'component "catalogue-db": image "mongo" has no tag; production needs a pinned tag'),
        (
            "reg:5000/img",
            'component "catalogue-db": image "reg:5000/img" has no tag; production needs a pinned tag',
        ),
        (
            "mongo:latest",
            'component "catalogue-db": image "mongo:latest" uses the mutable "latest" tag; '
            "production needs a pinned tag",
        ),
    ],
)
def test_unpinned_images_denied_in_production(engine: EmbeddedPolicyEngine, image: str, reason: str) -> None:
    decision = engine.evaluate_deploy(make_input(images={"catalogue-db": [image]}))
    assert decision.denied
    assert decision.deny == [reason]


@pytest.mark.parametrize(
    "image", ["mongo:7.0.14", "reg:5000/img:1.2", f"img@{DIGEST}", f"reg:5000/img:latest@{DIGEST}"]
)
def test_tagged_and_digest_images_allowed(engine: EmbeddedPolicyEngine, image: str) -> None:
    decision = engine.evaluate_deploy(make_input(images={"catalogue-db": [image]}))
    assert decision.deny == []
    assert not decision.denied


def test_decision_records_engine_revision_and_input(engine: EmbeddedPolicyEngine) -> None:
    document = make_input()
    decision = engine.evaluate_deploy(document)
    assert decision.engine == "embedded"
    assert decision.bundle_revision == engine.revision and len(decision.bundle_revision) == 64
    assert decision.input_sha256 == input_sha256(document)


def test_approvals_required(engine: EmbeddedPolicyEngine) -> None:
    assert engine.evaluate_deploy(make_input(environment="production")).approvals_required == 2
    assert engine.evaluate_deploy(make_input(environment="staging")).approvals_required == 0


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        ("2026-11-23T00:00:00Z", True),  # Monday, first minute
        ("2026-11-27T23:59:00Z", True),  # Friday, last minute
        ("2026-11-23T10:00:00+02:00", True),
        ("2026-11-22T23:59:59Z", False),  # Sunday
        (SATURDAY, False),
        ("2026-11-23T01:00:00+02:00", False),  # Sunday 23:00 UTC
        ("not a time", False),
    ],
)
def test_change_window(engine: EmbeddedPolicyEngine, now: str, allowed: bool) -> None:
    decision = engine.evaluate_deploy(make_input(now=now))
    assert decision.denied is not allowed, decision.deny


def test_change_window_reason(engine: EmbeddedPolicyEngine) -> None:
    assert engine.evaluate_deploy(make_input(now=SATURDAY)).deny == [
        "production accepts changes on Monday, Tuesday, Wednesday, Thursday, Friday between 00:00 and "
        "24:00 UTC; now is Saturday 10:00 UTC (2026-11-21T10:00:00Z)"
    ]


def test_wip_warns_in_any_environment(engine: EmbeddedPolicyEngine) -> None:
    for environment in ("dev", "production"):
        decision = engine.evaluate_deploy(
            make_input(environment=environment, message='WIP: "quoted"\nsecond line')
        )
        assert decision.warn == ['commit 0123456789ab is marked work in progress: "WIP: "quoted""']
    assert engine.evaluate_deploy(make_input(message="Fix WIP handling")).warn == []


def test_unprotected_environment_allows_everything(engine: EmbeddedPolicyEngine) -> None:
    decision = engine.evaluate_deploy(
        make_input(environment="staging", images={"a": ["mongo", "x:latest"]}, now=SATURDAY)
    )
    assert decision.deny == [] and decision.approvals_required == 0


def test_drift_remediates_nothing_by_default(engine: EmbeddedPolicyEngine) -> None:
    decision = engine.evaluate_drift(
        {
            "application": "shop",
            "environment": "staging",
            "item": {"component": "web", "kind": "modified", "path": "/srv/web/app.conf"},
        }
    )
    assert decision.remediate is False
    assert decision.reasons and "remediation is not enabled for staging" in decision.reasons[0]


def test_data_json_configures_the_rules(bundle_copy: Callable[..., Path]) -> None:
    root = bundle_copy(
        {
            "protected_environments": ["staging"],
            "approvals": 3,
            "change_window": {"days": ["Monday"], "start": "09:00", "end": "17:00"},
            "drift": {"remediate_environments": ["staging"]},
        }
    )
    engine = EmbeddedPolicyEngine(root)
    staging = make_input(environment="staging", images={"a": ["mongo:7"]}, now="2026-11-23T16:59:00Z")
    assert engine.evaluate_deploy(staging).deny == []
    assert engine.evaluate_deploy(staging).approvals_required == 3
    late = engine.evaluate_deploy({**staging, "now": "2026-11-23T17:00:00Z"})
    assert late.deny == [
        "staging accepts changes on Monday between 09:00 and 17:00 UTC; now is Monday 17:00 UTC "
        "(2026-11-23T17:00:00Z)"
    ]
    assert engine.evaluate_deploy(make_input(environment="production", images={"a": ["mongo"]})).deny == []
    drift = engine.evaluate_drift(
        {
            "application": "shop",
            "environment": "staging",
            "item": {"component": "web", "kind": "modified", "path": "/srv/web/app.conf"},
        }
    )
    assert drift.remediate is True


def test_edited_bundle_is_recompiled(bundle_copy: Callable[..., Path]) -> None:
    root = bundle_copy()
    engine = EmbeddedPolicyEngine(root, recheck_seconds=0)
    before = engine.revision
    assert engine.evaluate_deploy(make_input(environment="dev")).deny == []
    (root / "lockstep/extra.rego").write_text(
        'package lockstep.deploy\nimport rego.v1\ndeny contains "frozen" if input.environment == "dev"\n'
    )
    decision = engine.evaluate_deploy(make_input(environment="dev"))
    assert decision.deny == ["frozen"]
    assert decision.bundle_revision != before


def test_concurrent_evaluations_agree(engine: EmbeddedPolicyEngine) -> None:
    inputs = [make_input(images={"c": ["mongo"]}), make_input(environment="dev")]
    expected = [engine.evaluate_deploy(i).deny for i in inputs]
    errors: list[str] = []

    def work(n: int) -> None:
        for _ in range(50):
            got = engine.evaluate_deploy(inputs[n % 2]).deny
            if got != expected[n % 2]:
                errors.append(f"{got!r}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_drift_ignore_is_read_and_a_malformed_one_fails_closed(bundle_copy: Callable[..., Path]) -> None:
    root = bundle_copy({"drift": {"remediate_environments": ["staging"]}})
    rules = root / "lockstep" / "drift.rego"
    rules.write_text(rules.read_text() + '\nignore if input.item.path == "/srv/web/cache.json"\n')
    engine = EmbeddedPolicyEngine(root, recheck_seconds=0)
    item = {"component": "web", "kind": "modified", "path": "/srv/web/cache.json"}
    known = engine.evaluate_drift({"application": "shop", "environment": "staging", "item": item})
    assert (known.ignore, known.remediate) == (True, True)
    other = engine.evaluate_drift(
        {"application": "shop", "environment": "staging", "item": {**item, "path": "/srv/web/app.conf"}}
    )
    assert (other.ignore, other.remediate) == (False, True)

    rules.write_text(rules.read_text().replace("\nignore if", '\nignore := "yes" if'))
    malformed = engine.evaluate_drift({"application": "shop", "environment": "staging", "item": item})
    assert (malformed.ignore, malformed.remediate) == (False, False)  # flagged, never remediated
    assert "'ignore' is not a boolean" in malformed.reasons[0]


# --- failing closed -----------------------------------------------------------------------------


def test_broken_rego_denies_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "deploy.rego").write_text("package lockstep.deploy\nimport rego.v1\n\ndeny contains if {\n")
    decision = EmbeddedPolicyEngine(tmp_path).evaluate_deploy(make_input())
    assert decision.denied
    [reason] = decision.deny
    assert reason.startswith(f"policy engine embedded ({tmp_path}) cannot compile the bundle: ")
    assert f"{tmp_path}/deploy.rego:4:" in reason


def test_undefined_decision_denies(tmp_path: Path) -> None:
    (tmp_path / "other.rego").write_text("package lockstep.other\nimport rego.v1\nx := 1\n")
    engine = EmbeddedPolicyEngine(tmp_path)
    [reason] = engine.evaluate_deploy(make_input()).deny
    assert "returned an undefined decision for data.lockstep.deploy" in reason
    drift = engine.evaluate_drift({"environment": "staging"})
    assert drift.remediate is False and "undefined decision for data.lockstep.drift" in drift.reasons[0]


@pytest.mark.parametrize(
    ("rules", "cause"),
    [
        ('deny := "no"', "'deny' is not a set of strings"),
        ("deny contains 3 if true", "'deny' is not a set of strings"),
        ('warn contains "w" if true', "it has no 'deny' set"),
        ("deny := set()\napprovals_required := -1", "'approvals_required' is not a non-negative integer"),
        ('deny := set()\napprovals_required := "2"', "'approvals_required' is not a non-negative integer"),
        ("deny := set()\nx := 1\nx := 2", None),  # conflict in a helper nobody reads: fine
    ],
)
def test_malformed_decisions_deny(tmp_path: Path, rules: str, cause: str | None) -> None:
    (tmp_path / "deploy.rego").write_text(f"package lockstep.deploy\nimport rego.v1\n{rules}\n")
    decision = EmbeddedPolicyEngine(tmp_path).evaluate_deploy(make_input())
    if cause is None:
        assert decision.deny == []
    else:
        [reason] = decision.deny
        assert cause in reason and reason.startswith("policy engine embedded")


def test_evaluation_error_denies(tmp_path: Path) -> None:
    (tmp_path / "deploy.rego").write_text(
        'package lockstep.deploy\nimport rego.v1\nn := 1\nn := 2 if true\ndeny contains "x" if n == 1\n'
    )
    [reason] = EmbeddedPolicyEngine(tmp_path).evaluate_deploy(make_input()).deny
    assert "failed evaluating data.lockstep.deploy.deny" in reason


def test_missing_bundle_denies(tmp_path: Path) -> None:
    engine = make_policy_engine(PolicySettings(path=str(tmp_path / "nope")))
    [reason] = engine.evaluate_deploy(make_input()).deny
    assert "cannot load the bundle" in reason and "is not a directory" in reason
    assert engine.revision == "unknown"


def test_strings_reach_the_policy_exactly_as_written(engine: EmbeddedPolicyEngine) -> None:
    # Quotes, backslashes, newlines and non-ASCII text in names and messages come back verbatim.
    decision = engine.evaluate_deploy(
        make_input(images={'cat"a\\logue': ["reg/ünïcode:latest"]}, message="WIP: naïve \\ fix\nmore")
    )
    assert decision.deny == [
        'component "cat"a\\logue": image "reg/ünïcode:latest" uses the mutable "latest" tag; '
        "production needs a pinned tag"
    ]
    assert decision.warn == ['commit 0123456789ab is marked work in progress: "WIP: naïve \\ fix"']


def test_numbers_reach_the_policy_exactly(tmp_path: Path) -> None:
    # The node-by-node input path would round floats and wrap huge integers: such inputs go as text.
    bundle = tmp_path / "numbers"
    (bundle / "lockstep").mkdir(parents=True)
    (bundle / "lockstep" / "deploy.rego").write_text(
        "package lockstep.deploy\n\nimport rego.v1\n\nwarn := set()\n\ndefault approvals_required := 0\n\n"
        'deny contains "tiny float" if input.tiny > 0\n\n'
        'deny contains "huge int" if input.huge > 1\n\n'
        'deny contains "small int" if input.small == 7\n'
    )
    engine = EmbeddedPolicyEngine(bundle)
    assert sorted(engine.evaluate_deploy({"tiny": 1.5e-7, "huge": 2**63, "small": 7}).deny) == [
        "huge int",
        "small int",
        "tiny float",
    ]
    assert engine.evaluate_deploy({"small": 7}).deny == ["small int"]


@pytest.mark.parametrize(
    ("trigger", "actor", "groups", "allowed"),
    [
        ("promotion", "ci", (), True),
        ("remediation", None, (), True),
        ("manual", "alice", ("release-managers",), True),
        ("manual", "dave", ("developers",), False),
        ("manual", None, (), False),  # `lockstep deploy` as a local user: a name, no groups
        ("webhook", "octocat", (), False),
        ("rollback", "dave", (), False),
        ("rollback", "alice", ("release-managers",), True),  # `lockstep rollback` with a token
    ],
)
def test_who_may_deploy_a_protected_environment(
    engine: EmbeddedPolicyEngine, trigger: str, actor: str | None, groups: tuple[str, ...], allowed: bool
) -> None:
    decision = engine.evaluate_deploy(make_input(trigger=trigger, actor=actor, groups=groups))
    assert decision.denied is not allowed
    if not allowed:
        assert decision.deny == [
            "production takes commits by promotion or remediation, or from a member of release-managers; "
            + (f'"{actor}"' if actor else "an anonymous actor")
            + f" (trigger {trigger}) is neither"
        ]
    assert not engine.evaluate_deploy(make_input(environment="staging", trigger=trigger, actor=actor)).denied


def test_deployer_groups_are_configurable(bundle_copy: Callable[..., Path]) -> None:
    engine = EmbeddedPolicyEngine(bundle_copy({"deployer_groups": ["sre"], "deploy_without_group": []}))
    assert engine.evaluate_deploy(make_input(trigger="manual", actor="sam", groups=("sre",))).deny == []
    refused = engine.evaluate_deploy(make_input(trigger="promotion", groups=("release-managers",)))
    assert refused.denied
