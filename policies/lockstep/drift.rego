# Drift policy, evaluated as data.lockstep.drift for each drift item the sweep finds:
#
#   {"application": "shop", "environment": "staging", "now": "…",
#    "item": {"component": "web", "target": "vms-staging", "host": "10.0.0.5", "object": "",
#             "kind": "modified|missing|unexpected", "path": "/srv/web/app.conf",
#             "first_seen": "…", "last_seen": "…",
#             "last_deployment": {"id": "…", "commit": "…", "at": "…", "actor": "…"}}}
#
# remediate (boolean): re-deliver the live revision to the item's component; ignore (boolean):
# record the item as ignored (the environment stays in_sync for it); both false: flag it.
# By default every item is flagged. List environments in
# data.lockstep.config.drift.remediate_environments to remediate them automatically.
package lockstep.drift

import rego.v1

environments := data.lockstep.configuration.effective.drift.remediate_environments

default remediate := false

remediate if {
	input.environment in environments
	is_object(input.item)
}

default ignore := false

reasons contains msg if {
	remediate
	msg := concat("", [
		input.item.kind, " ", _where, " in ", input.application, "/", input.environment,
		"; remediation is enabled for ", input.environment,
	])
}

reasons contains msg if {
	not input.environment in environments
	msg := concat("", [
		"remediation is not enabled for ", input.environment,
		" (data.lockstep.config.drift.remediate_environments); drift is only flagged",
	])
}

_where := concat(":", [x | some x in [object.get(input.item, "object", ""), object.get(input.item, "path", "")]; x != ""])
