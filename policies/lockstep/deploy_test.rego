# Tests for data.lockstep.deploy over the shipped data.json. Inputs are set field by field
# (`with input.plan as …`) and data is never mocked: rego-cpp cannot compile `with input as {…}`
# once a policy reads data, and folds data into rules at compile time, so `with data.… as` is
# unreliable there. Changing data.json is tested from Python (tests/policy). See policies/README.md.
package lockstep.deploy_test

import rego.v1

import data.lockstep.deploy

monday := "2026-11-23T10:00:00Z"

saturday := "2026-11-21T10:00:00Z"

commit := {"sha": "0123456789abcdef0123", "author": "ada", "message": "Bump catalogue-db", "timestamp": monday}

plan_with(images) := {
	"components": [{
		"name": "catalogue-db", "kind": "kubernetes", "target": "k8s-prod",
		"action": "update", "images": images,
	}],
	"waves": [["catalogue-db"]],
}

denials(environment, images, now) := result if {
	plan := plan_with(images)
	result := deploy.deny with input.environment as environment
		with input.plan as plan
		with input.now as now
		with input.commit as commit
		with input.trigger as {"kind": "promotion", "actor": "ada", "groups": []}
}

# The trigger field by field, `now` as a literal and no plan: rego-cpp loses `with` values given
# as references to rules of this package in some combinations.
denials_for(environment, kind, actor, groups) := result if {
	result := deploy.deny with input.environment as environment
		with input.now as "2026-11-23T10:00:00Z"
		with input.trigger.kind as kind
		with input.trigger.actor as actor
		with input.trigger.groups as groups
}

# --- images -------------------------------------------------------------------------------------

test_latest_tag_denied_in_production if {
	denials("production", ["mongo:latest"], monday) == {
		`component "catalogue-db": image "mongo:latest" uses the mutable "latest" tag; production needs a pinned tag`,
	}
}

test_untagged_image_denied_in_production if {
	denials("production", ["mongo"], monday) == {
		`component "catalogue-db": image "mongo" has no tag; production needs a pinned tag`,
	}
}

test_registry_port_is_not_a_tag if {
	denials("production", ["reg:5000/img"], monday) == {
		`component "catalogue-db": image "reg:5000/img" has no tag; production needs a pinned tag`,
	}
}

test_empty_tag_denied if {
	count(denials("production", ["img:"], monday)) == 1
}

test_tagged_images_allowed if {
	denials("production", ["mongo:7.0.14", "reg:5000/img:1.2", "reg/team/img:v5"], monday) == set()
}

test_digest_pinned_images_allowed if {
	digest := concat("", ["sha256:", concat("", [x | some _ in numbers.range(1, 8); x := "0123abcd"])])
	images := [concat("@", ["img", digest]), concat("@", ["reg:5000/img:latest", digest])]
	denials("production", images, monday) == set()
}

test_every_bad_image_is_named if {
	count(denials("production", ["a", "b:latest", "c:1"], monday)) == 2
}

# --- approvals ----------------------------------------------------------------------------------

test_production_requires_two_approvals if {
	deploy.approvals_required == 2 with input.environment as "production"
}

test_other_environments_require_none if {
	deploy.approvals_required == 0 with input.environment as "staging"
}

# --- change window ------------------------------------------------------------------------------

test_weekday_inside_window_allowed if {
	denials("production", ["mongo:7"], monday) == set()
}

test_weekend_denied_in_production if {
	denials("production", ["mongo:7"], saturday) == {concat("", [
		"production accepts changes on Monday, Tuesday, Wednesday, Thursday, Friday between 00:00 ",
		"and 24:00 UTC; now is Saturday 10:00 UTC (2026-11-21T10:00:00Z)",
	])}
}

test_window_starts_at_midnight if {
	denials("production", ["mongo:7"], "2026-11-23T00:00:00Z") == set()
	count(denials("production", ["mongo:7"], "2026-11-22T23:59:59Z")) == 1
}

test_window_is_utc if {
	# Monday 01:00 at +02:00 is Sunday 23:00 UTC.
	count(denials("production", ["mongo:7"], "2026-11-23T01:00:00+02:00")) == 1
}

test_unreadable_now_denied if {
	some reason in denials("production", ["mongo:7"], "next tuesday")
	contains(reason, "is not an RFC 3339 time")
}

# --- commit and environments --------------------------------------------------------------------

test_wip_commit_warns_in_any_environment if {
	wip := object.union(commit, {"message": "WIP: try the new index\n\nnot ready"})
	warnings := deploy.warn with input.environment as "dev" with input.commit as wip
	warnings == {`commit 0123456789ab is marked work in progress: "WIP: try the new index"`}
}

test_ordinary_commit_no_warning if {
	deploy.warn == set() with input.environment as "dev" with input.commit as commit
}

test_unprotected_environment_allows_everything if {
	denials("staging", ["mongo", "img:latest"], saturday) == set()
}

# --- who may deploy -----------------------------------------------------------------------------

test_promotion_into_production_needs_no_group if {
	denials_for("production", "promotion", "ada", []) == set()
}

test_remediation_into_production_needs_no_group if {
	denials_for("production", "remediation", null, []) == set()
}

test_release_manager_may_deploy_production_by_hand if {
	denials_for("production", "manual", "alice", ["release-managers"]) == set()
}

test_others_may_not_deploy_production_by_hand if {
	denials_for("production", "manual", "dave", ["developers"]) == {concat("", [
		"production takes commits by promotion or remediation, or from a member of release-managers; ",
		`"dave" (trigger manual) is neither`,
	])}
}

test_a_webhook_or_a_rollback_by_a_non_member_is_denied if {
	count(denials_for("production", "webhook", "octocat", [])) == 1
	count(denials_for("production", "rollback", "dave", [])) == 1
}

test_an_anonymous_manual_deployment_is_denied if {
	denials_for("production", "manual", null, []) == {concat("", [
		"production takes commits by promotion or remediation, or from a member of release-managers; ",
		"an anonymous actor (trigger manual) is neither",
	])}
}

test_unprotected_environments_take_anyone if {
	denials_for("staging", "manual", null, []) == set()
}
