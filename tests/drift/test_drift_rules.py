"""The pure drift rules: ignore patterns, an environment's state, how a gone item was resolved."""

from __future__ import annotations

from lockstep.domain.drift import DriftItem, environment_state, ignored, resolution_for

AT = "2026-11-23T10:00:00+00:00"


def item(**fields: str) -> DriftItem:
    base = {
        "application": "shop",
        "environment": "staging",
        "component": "web",
        "target": "t",
        "kind": "modified",
    }
    return DriftItem.model_validate({**base, "first_seen": AT, "last_seen": AT, **fields})


def test_ignore_patterns_match_paths_objects_and_fields() -> None:
    host_file = item(host="10.0.0.5", path="/srv/web/cache/a/b.json")
    assert ignored(host_file, ["/srv/web/cache/*"])  # `*` crosses `/`
    assert not ignored(host_file, ["/srv/web/cache"])  # a folder's path alone is not a glob
    assert ignored(host_file, ["/srv/web/cache/a/b.json"])

    replicas = item(object="Deployment/shop/web", path="spec.replicas")
    assert ignored(replicas, ["spec.replicas"])
    assert ignored(replicas, ["Deployment/shop/web:spec.replicas"])
    assert ignored(replicas, ["Deployment/shop/*"])
    assert not ignored(replicas, ["Deployment/shop/api:spec.replicas", "spec.template.*"])
    assert not ignored(replicas, [])


def test_state_is_unknown_whenever_something_could_not_be_read() -> None:
    flagged, ignored_item = item(path="/a"), item(path="/b", decision="ignore")
    assert environment_state([], []) == "in_sync"
    assert environment_state([ignored_item], []) == "in_sync"
    assert environment_state([flagged, ignored_item], []) == "drifted"
    assert environment_state([], ["web: 10.0.0.5: connection refused"]) == "unknown"
    assert environment_state([flagged], ["web: 10.0.0.5: connection refused"]) == "unknown"


def test_a_gone_item_was_redeployed_only_by_a_later_delivery() -> None:
    assert resolution_for(AT, "2026-11-23T10:05:00+00:00") == "redeployed"
    assert resolution_for(AT, "2026-11-23T09:55:00+00:00") == "reverted_by_hand"
    assert resolution_for(AT, None) == "reverted_by_hand"


def test_a_gone_item_was_remediated_by_its_remediation_that_succeeded_after_it_was_seen() -> None:
    later = "2026-11-23T10:05:00+00:00"
    assert resolution_for(AT, later, later) == "remediated"
    assert resolution_for(AT, later, "2026-11-23T09:55:00+00:00") == "redeployed"
    assert resolution_for(AT, None, None) == "reverted_by_hand"
    # A deployment of the component after the remediation is what put it back.
    assert resolution_for(AT, "2026-11-23T10:09:00+00:00", later) == "redeployed"
