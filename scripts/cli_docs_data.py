"""What docs/cli.md says that the typer app cannot: exit codes beyond the common three, and the
shape of each command's `--output json`, field by field.

Read by `scripts/gen_cli_docs.py`; keyed by the command's path under `lockstep` ("deploy",
"policy eval"). tests/scripts/test_cli_docs.py checks that every command with an `--output`
option has a shape here and that the deployment fields match `DeploymentView`, so a field added
to the model without a line here fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass

Fields = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class JsonShape:
    summary: str
    fields: Fields


# One deployment as `lockstep status`, `list`, `deploy` and GET /deployments/{id} show it
# (lockstep.domain.messages.DeploymentView). Paths: `a.b` a nested key, `a[]` each list item.
DEPLOYMENT: Fields = (
    ("id", "deployment id, `<application>.<environment>.<commit10>` (`.2`, `.3`, … for later attempts)"),
    ("application", "application name from `lockstep.yaml`"),
    ("environment", "environment name"),
    ("commit", "full commit sha"),
    (
        "status",
        "`queued`, `planning`, `awaiting_approval`, `deploying`, `rolling_back`, or a final one: "
        "`succeeded`, `failed`, `rolled_back`, `rollback_failed`, `rejected`, `denied`, "
        "`superseded`, `cancelled`",
    ),
    ("trigger", "`webhook`, `manual`, `promotion`, `poll`, `rollback` or `remediation`"),
    ("actor", "who asked for it (a configured user, the pusher, the local user), or null"),
    (
        "actor_source",
        "how the actor was known: `api-token`, `webhook-signature`, `cli-local`, `temporal-signal`, `system`",
    ),
    ("plan.components[]", "each component the deployment changes"),
    ("plan.components[].name", "component name"),
    ("plan.components[].kind", "`host` or `kubernetes`"),
    ("plan.components[].target", "target name from the server configuration"),
    ("plan.components[].action", "`create` (new here), `update` (content changed) or `redeploy`"),
    ("plan.components[].reason", "why it is in the plan, in words"),
    ("plan.components[].content_hash", "sha256 of the component's rendered content"),
    ("plan.components[].depends_on", "names of the components it depends on"),
    ("plan.components[].images", "container images (kubernetes components)"),
    ("plan.components[].previous_commit", "the commit live before, or null"),
    ("plan.components[].target_namespace", "the kubernetes target's namespace, or null"),
    ("plan.components[].objects", "kubernetes objects: `apiVersion`, `kind`, `namespace`, `name`"),
    ("plan.components[].dests", "release folders (host components)"),
    ("plan.components[].commands", "deploy, then health commands (host components)"),
    (
        "plan.components[].change_counts",
        "what delivering it would change on its target, looked at while planning: `created`, "
        "`configured`, `unchanged`, `deleted` summed over its hosts or cluster; null when one could not "
        "be looked at (or in plans made before Lockstep looked)",
    ),
    ("plan.components[].unreachable", "the hosts (or the cluster's target) that could not be looked at"),
    ("plan.waves", "component names wave by wave; a wave's components run in parallel"),
    ("plan.unchanged", "components left as they are"),
    ("steps[]", "one per component and host, in the order they ran (empty in `status` without an id)"),
    ("steps[].component", "component name"),
    (
        "steps[].host",
        "host name or address; for kubernetes empty (the component's step) or an object, "
        "`Kind/namespace/name`",
    ),
    ("steps[].action", "`deploy`, `health` or `rollback`"),
    (
        "steps[].status",
        "`pending`, `running`, `succeeded`, `failed`, `rolled_back`, `rollback_failed`, `skipped`",
    ),
    ("steps[].started_at, steps[].finished_at", "RFC 3339 timestamps, or null"),
    ("steps[].error", "why the step failed, or null"),
    ("steps[].output", "tail of the command output, known secrets masked as `***`, or null"),
    (
        "steps[].changes",
        "what a `deploy` or `rollback` step did on its host (or cluster), once it returned; null on other "
        "steps (see [change sets](concepts.md#change-sets))",
    ),
    (
        "steps[].changes.counts",
        "subjects per action: `created`, `configured`, `unchanged`, `deleted` (exact)",
    ),
    ("steps[].changes.summary", "the counts in words, e.g. `1 configured, 4 unchanged`"),
    (
        "steps[].changes.items[]",
        "each subject, unchanged ones too (at most 500): `subject` (a file path, or `Kind/namespace/name`), "
        "`action`, `summary`",
    ),
    ("steps[].changes.truncated", "true when `items` lists fewer subjects than `counts` counts"),
    ("steps[].changes.unreachable", "why the host could not be looked at, or null"),
    ("approvals[]", "every decision so far, counted or not"),
    (
        "approvals[].approver, .decision, .at, .comment",
        "who, `approve` or `reject`, when, and the comment given",
    ),
    ("approvals[].source", "`api-token` (through the API) or `temporal-signal` (named in a signal)"),
    ("approvals[].counted, .reason", '`"true"` or `"false"` (strings), and why one did not count'),
    ("approvals_required", "the quorum the deployment waits for (0: none)"),
    ("policy_warnings", "the policy's `warn` reasons"),
    ("error", "why it ended as it did, or null"),
    ("created_at, updated_at, finished_at", "RFC 3339 timestamps, or null"),
)

POLICY_DECISION: Fields = (
    ("deny", "reasons the policy denies; any one blocks the deployment"),
    ("warn", "reasons recorded as warnings"),
    ("approvals_required", "approvals the policy asks for (the manifest's count wins when larger)"),
    ("engine", "`embedded` or `opa`"),
    ("bundle_revision", "hash of the policy bundle evaluated"),
    ("input_sha256", "sha256 of the canonical input document"),
)

JSON_OUTPUT: dict[str, JsonShape] = {
    "plan": JsonShape(
        "An array, one object per environment planned.",
        (
            ("application, environment", "what was planned"),
            ("commit", "`sha`, `author`, `author_email`, `committer_email`, `message`, `timestamp`"),
            ("plan", "`components`, `waves`, `unchanged`, as in a deployment's `plan`"),
            (
                "plan.components[].changes[]",
                "what delivering it would change, one entry per host (or the cluster): `location` "
                '(a host\'s label; `""` for a cluster), `unreachable` (why it could not be looked at, '
                "else null), `counts` (`created`, `configured`, `unchanged`, `deleted`; null when "
                "unreachable) and `changes[]`: `subject` (a file, or `Kind/namespace/name`), `action`, "
                "`summary` (e.g. the changed fields), and with `--diff` its unified `diff`",
            ),
            ("policy.allowed", "false when the policy denies"),
            ("policy.deny, .warn, .engine, .bundle_revision, .input_sha256", "the policy's decision"),
            ("policy.approvals_required", "the larger of the manifest's and the policy's quorum"),
            ("policy.trigger", "`promotion` for an environment with `promote_from`, else `manual`"),
            ("policy.actor", "the user of LOCKSTEP_TOKEN the policy was asked for, or null"),
            ("promotion.promote_from", "environments the commit must have succeeded in first"),
            ("promotion.satisfied, .reason", "whether it has, and if not, why"),
            ("rules_changed", "true when the commit changes the environment's `promote_from` or approvals"),
            (
                "target_limits.allowed, .deny",
                "whether the targets' namespace limits accept the plan; why not",
            ),
        ),
    ),
    "deploy": JsonShape(
        "One deployment object, as `lockstep status ID` prints it. Without `--wait`, printed as soon "
        "as it is queued: before the worker records it, only `id`, `application`, `environment`, "
        "`commit` and `status` (`queued`) carry values.",
        DEPLOYMENT,
    ),
    "rollback": JsonShape(
        "One deployment object, as `lockstep deploy` prints it: the rollback (trigger `rollback`), or, "
        "when what the deployment named left is live already, the live deployment.",
        DEPLOYMENT,
    ),
    "status": JsonShape(
        "With an id, one deployment object; without, an array of the latest deployment of each "
        "application and environment, with empty `steps`.",
        DEPLOYMENT,
    ),
    "list": JsonShape("An array of deployment objects (as `lockstep status`), newest first.", DEPLOYMENT),
    "history": JsonShape(
        "One object.",
        (
            ("application, environment", "as asked"),
            ("live[]", "per component, what is live: `component`, `commit`, `content_hash`, `deployment_id`"),
            ("deployments[]", "the environment's deployments, newest first (as `lockstep status`)"),
        ),
    ),
    "drift": JsonShape(
        "An array, one object per environment a sweep has looked at (as `GET /drift` answers); "
        "docs/drift.md says what each field means.",
        (
            ("application, environment", "which environment"),
            (
                "state",
                "`in_sync`, `drifted` (an open item not ignored) or `unknown` (a target could not be read)",
            ),
            ("reason", "why `unknown`: each target or host that could not be read, and why; else null"),
            (
                "pending",
                "commits on the environment's branch that are not live yet (Git ahead of live is not drift)",
            ),
            ("checked_at", "when the last sweep looked (RFC 3339, UTC)"),
            ("items[]", "each difference still open"),
            ("items[].component, items[].target", "the component and the target it is bound to"),
            ("items[].host", "the host's label, or empty for kubernetes"),
            ("items[].object", "`Kind/namespace/name` for kubernetes, or empty"),
            ("items[].kind", "`modified`, `missing` or `unexpected`"),
            (
                "items[].path",
                "the file on the host (`<dest>/<file>`, `<dest>/current`), or the object's field path",
            ),
            ("items[].first_seen, items[].last_seen", "the first and the latest sweep that saw it"),
            (
                "items[].last_deployment",
                "the deployment that set the component live: `id`, `commit`, `at`, `actor`",
            ),
            ("items[].decision", "`remediate`, `flag` or `ignore`"),
            ("items[].remediation", "the remediation deployment's id, or null"),
            ("items[].resolved_at, items[].resolution", "null while open"),
        ),
    ),
    "approve": JsonShape(
        'The API\'s answer. A refusal prints `{"error": "…", "status_code": 403}` instead, and exits 1.',
        (
            ("counted", "whether this decision counted"),
            ("decision", "`approve` or `reject`"),
            ("approvals, required", "approvals counted so far, and the quorum"),
            ("status", "the deployment's status after the decision"),
            ("message", "the answer in words"),
        ),
    ),
    "policy test": JsonShape(
        "One object.",
        (
            ("bundle", "the bundle folder"),
            ("passed, total", "tests passed, tests run"),
            ("tests[]", "`file`, `query`, `outcome` (`passed`, `failed`, `error`) and `detail`"),
        ),
    ),
    "policy eval": JsonShape(
        "With `--query deploy`, the decision and `denied`; with `--query drift`, "
        "`remediate`, `ignore`, `reasons`, `engine`, `bundle_revision`, `input_sha256`.",
        (*POLICY_DECISION, ("denied", "true when `deny` holds a reason")),
    ),
    "audit verify": JsonShape(
        "One object.",
        (
            ("ok", "whether the chain is intact"),
            ("checked", "entries checked"),
            ("head_hash", "hash of the newest entry, or null for an empty trail"),
            ("problems", "one sentence per edited, deleted, reordered or inserted row"),
        ),
    ),
    "audit list": JsonShape(
        "An array of entries, oldest first.",
        (
            ("seq", "position in the chain, gapless from 1"),
            ("key", "what makes the entry unique (a replay writes nothing twice)"),
            (
                "kind",
                "`started`, `planned`, `policy_decision`, `approval`, `rejection`, `step_finished`, "
                "`rollback`, `manual_action`, `drift_detected`, `drift_resolved`, `promotion_failed`, "
                "`finished`",
            ),
            ("actor, actor_source", "who, and how that was known"),
            ("deployment_id, application, environment", "what it concerns, or null"),
            ("detail", "the entry's data (an object)"),
            ("at, recorded_at", "when it happened, when it was written (RFC 3339, UTC)"),
            ("prev_hash, hash", "the chain: the previous entry's hash, this entry's hash"),
        ),
    ),
}
JSON_OUTPUT["reject"] = JSON_OUTPUT["approve"]

# Exit code 1 means a failed or refused operation everywhere; what it means for each command.
EXIT_ONE: dict[str, str] = {
    "dev": "a part of the stack did not start, or kept dying",
    "worker": "the configuration is invalid or Temporal cannot be reached",
    "api": "the configuration is invalid, or the API cannot listen on `api.listen`",
    "setup": "Temporal cannot be reached or refused the registration",
    "plan": "the manifest is invalid, the policy denies an environment, or a target's limits refuse the plan",
    "deploy": "the deployment could not be queued; with `--wait`, it ended other than `succeeded`",
    "rollback": "refused (no successful deployment before the live one, the one named did not succeed "
    "or is of another environment, its commit can no longer be rendered) or could not be queued; with "
    "`--wait`, it ended other than `succeeded`",
    "status": "no such deployment, or the database or Temporal cannot be read",
    "list": "the database cannot be read",
    "history": "the database cannot be read",
    "drift": "the database cannot be read",
    "approve": "LOCKSTEP_TOKEN is unset, the API cannot be reached, or it refused the decision",
    "reject": "LOCKSTEP_TOKEN is unset, the API cannot be reached, or it refused the decision",
    "policy test": "a test failed or erred, or the bundle has no tests",
    "policy eval": "the input is denied",
    "audit verify": "the chain is broken (each problem is named)",
    "audit list": "the database cannot be read",
}

# Exit code 2 besides click's own (a missing argument, an unknown option).
EXIT_TWO: dict[str, str] = {
    "list": "`--status` names no known status",
    "policy test": "the bundle folder does not exist",
    "policy eval": "the input file is missing, unreadable, not JSON or not an object, or the bundle "
    "folder does not exist",
}
