# Tests for data.lockstep.drift over the shipped data.json (inputs set field by field and data never
# mocked, as in deploy_test.rego; remediation enabled through data.json is tested from Python).
package lockstep.drift_test

import rego.v1

import data.lockstep.drift

item := {
	"component": "web", "target": "vms-staging", "host": "10.0.0.5", "object": "",
	"kind": "modified", "path": "/srv/web/app.conf",
}

test_flags_by_default if {
	not drift.remediate with input.environment as "production"
		with input.application as "shop"
		with input.item as item
	not drift.ignore with input.environment as "production"
		with input.application as "shop"
		with input.item as item
}

test_reason_says_remediation_is_off if {
	drift.reasons == {concat("", [
		"remediation is not enabled for staging ",
		"(data.lockstep.config.drift.remediate_environments); drift is only flagged",
	])} with input.environment as "staging"
		with input.application as "shop"
		with input.item as item
}
