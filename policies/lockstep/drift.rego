# Drift policy, evaluated as data.lockstep.drift for one drift report:
#
#   {"application": "shop", "environment": "staging", "now": "…",
#    "differences": [{"component": "web", "kind": "modified|missing|unexpected", "object": "…"}]}
#
# remediate (boolean) starts a remediation deployment when true; reasons says why or why not.
# By default nothing is remediated: drift is flagged and recorded. List environments in
# data.lockstep.config.drift.remediate_environments to remediate them automatically.
package lockstep.drift

import rego.v1

environments := data.lockstep.configuration.effective.drift.remediate_environments

default remediate := false

remediate if {
	input.environment in environments
	count(input.differences) > 0
}

reasons contains msg if {
	remediate
	msg := concat("", [
		format_int(count(input.differences), 10), " difference(s) in ", input.application, "/",
		input.environment, "; remediation is enabled for ", input.environment,
	])
}

reasons contains msg if {
	not input.environment in environments
	msg := concat("", [
		"remediation is not enabled for ", input.environment,
		" (data.lockstep.config.drift.remediate_environments); drift is only flagged",
	])
}

reasons contains "no differences to remediate" if {
	input.environment in environments
	count(input.differences) == 0
}
