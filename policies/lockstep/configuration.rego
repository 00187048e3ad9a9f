# The effective policy configuration: the defaults below, overridden key by key by
# data.lockstep.config (policies/data.json). A missing or partial data.json still yields a
# complete configuration, so no rule silently stops firing for want of a setting.
package lockstep.configuration

import rego.v1

defaults := {
	"protected_environments": ["production"],
	"approvals": 2,
	"change_window": {
		"days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
		"start": "00:00",
		"end": "24:00",
	},
	"drift": {"remediate_environments": []},
	"deployer_groups": ["release-managers"],
	"deploy_without_group": ["promotion", "remediation"],
	"kubernetes": {
		"cluster_scoped_allowed": [],
		"foreign_namespaces_allowed": {},
	},
}

default overrides := {}

overrides := data.lockstep.config if is_object(data.lockstep.config)

effective := object.union(defaults, overrides)
