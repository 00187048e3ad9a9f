# Deployment policy, evaluated as data.lockstep.deploy (its input: policies/README.md).
#
#   deny               set of reasons; any reason blocks the deployment (status "denied")
#   warn               set of reasons, recorded with the decision
#   approvals_required number of approvals; 0 unless the environment is protected
#
# Protected environments (default ["production"]) need pinned image tags, the configured number of
# approvals (default 2), a change inside the change window (default Monday to Friday, all day,
# UTC) and a promotion (or remediation) or a deployer from the configured groups (default
# release-managers). A commit message starting with "WIP" is a warning in any environment.
#
# Messages are built with concat, not sprintf("%s"): rego-cpp quotes strings that builtins return
# when sprintf formats them, OPA does not; concat reads the same on both engines.
package lockstep.deploy

import rego.v1

config := data.lockstep.configuration.effective

protected if input.environment in config.protected_environments

default approvals_required := 0

approvals_required := config.approvals if protected

# --- images -------------------------------------------------------------------------------------

# An image reference with a digest (`img@sha256:…`, with or without a tag) is immutable and passes.
deny contains msg if {
	protected
	some component in input.plan.components
	some image in component.images
	not contains(image, "@")
	problem := image_problem(image)
	msg := concat("", [
		"component \"", component.name, "\": image \"", image, "\" ", problem, "; ",
		input.environment, " needs a pinned tag",
	])
}

# A tag is a ":" followed by something other than "/" at the end of the reference: `img:1.2` and
# `reg:5000/img:1.2` have one; `reg:5000/img` has none (that colon is the registry's port), nor
# has `img:`. (Two rules rather than a split-based parser: rego-cpp makes builtin calls costly.)
image_problem(image) := "has no tag" if not regex.match(`:[^/]+$`, image)

image_problem(image) := "uses the mutable \"latest\" tag" if endswith(image, ":latest")

# --- who may deploy ------------------------------------------------------------------------------

# A protected environment takes commits that arrive by a trigger listed in
# `deploy_without_group` (by default a promotion, which succeeded in the previous environment, or
# a remediation, which re-delivers what is live), or from a member of `deployer_groups`.
# `input.trigger.groups` holds the groups of an actor a token authenticated, and nothing for a
# webhook's pusher or a local user: a claimed name grants no group.
deny contains msg if {
	protected
	not trigger_kind in config.deploy_without_group
	not deployer
	msg := concat("", [
		input.environment, " takes commits by ", concat(" or ", config.deploy_without_group),
		", or from a member of ", concat(", ", config.deployer_groups), "; ", described(trigger_actor),
		" (trigger ", trigger_kind, ") is neither",
	])
}

default trigger_kind := ""

trigger_kind := input.trigger.kind

default trigger_groups := []

trigger_groups := input.trigger.groups

default trigger_actor := null

trigger_actor := input.trigger.actor

deployer if {
	some group in trigger_groups
	group in config.deployer_groups
}

described(actor) := concat("", ["\"", actor, "\""]) if is_string(actor)

described(actor) := "an anonymous actor" if not is_string(actor)

# --- change window ------------------------------------------------------------------------------

window := config.change_window

deny contains msg if {
	protected
	not now_ns
	msg := concat("", [
		"input.now ", json.marshal(object.get(input, "now", null)), " is not an RFC 3339 time, so the ",
		input.environment, " change window cannot be checked",
	])
}

deny contains msg if {
	protected
	now_ns
	not in_window
	msg := concat("", [
		input.environment, " accepts changes on ", concat(", ", window.days), " between ",
		window.start, " and ", window.end, " UTC; now is ", weekday, " ",
		sprintf("%02d:%02d", [clock[0], clock[1]]), " UTC (", input.now, ")",
	])
}

# rego-cpp's time.parse_rfc3339_ns rejects the "Z" suffix; "+00:00" means the same to both engines.
now_ns := time.parse_rfc3339_ns(regex.replace(input.now, `[Zz]$`, "+00:00"))

# Weekday and time of day by arithmetic on the epoch (1970-01-01 was a Thursday), with floor
# division and subtraction only. Not time.weekday / time.clock: rego-cpp's crash a process that has
# loaded the Temporal SDK's native bridge (a Lockstep worker). Not `%`: rego-cpp's remainder
# yields malformed integers (`600 % 60 == 0` is false there).
weekdays := ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

now_seconds := floor(now_ns / 1000000000)

days_since_epoch := floor(now_seconds / 86400)

weekday := weekdays[(days_since_epoch + 4) - (floor((days_since_epoch + 4) / 7) * 7)]

minute_of_day := floor((now_seconds - (days_since_epoch * 86400)) / 60)

clock := [floor(minute_of_day / 60), minute_of_day - (floor(minute_of_day / 60) * 60)]

in_window if {
	weekday in window.days
	minutes(window.start) <= minute_of_day
	minute_of_day < minutes(window.end)
}

# "09:30" -> 570.
minutes(hhmm) := (number(parts[0]) * 60) + number(parts[1]) if {
	parts := split(hhmm, ":")
}

# "09" -> 9, "9" -> 9. The "1" prefix keeps leading zeros away from to_number: rego-cpp turns a
# split() "00" into a malformed integer; to_number("100") - 100 is a clean 0 on both engines.
number(digits) := to_number(concat("", ["1", digits])) - [1, 10, 100][count(digits)]

# --- commit -------------------------------------------------------------------------------------

warn contains msg if {
	startswith(input.commit.message, "WIP")
	msg := concat("", [
		"commit ", substring(input.commit.sha, 0, 12), " is marked work in progress: \"",
		split(input.commit.message, "\n")[0], "\"",
	])
}
