"""The Temporal workflow ids of deployments and lanes, and the older ids they replace.

Application names are DNS labels (`lockstep.manifest.syntax`): lower-case letters, digits and
`-`, never `.`. Environment names may hold `.` (letters, digits, `-`, `_`, `.`), so an id is read
from both ends: the application is everything before the first `.`; a lane id ends in `.lane`; a
deployment id ends in the commit's ten hex digits, or in those and `.<n>` for a later attempt,
where `n` has at most nine digits (attempts are bounded), so it can never be taken for a commit.
The environment is what lies between. That makes every form below read back one way only:

    deployment  <application>.<environment>.<sha10>         shop-eu.prod.0d1a26e67d
    attempt n   <application>.<environment>.<sha10>.<n>     shop-eu.prod.0d1a26e67d.2   (n >= 2)
    lane        <application>.<environment>.lane            shop-eu.prod.lane

A lane id ends in `lane`, which is not ten hex digits, so it never equals a deployment id (both
live in one Temporal namespace, where a workflow id is unique whatever the workflow's type).
The forms stay readable and URL-path safe (`/deployments/shop-eu.prod.0d1a26e67d`), and sort a
lane next to its environment's deployments in the Temporal UI.

Before this scheme ids joined names with `-`: `shop-eu`/`prod` and `shop`/`eu-prod` shared the
lane `lane-shop-eu-prod` and the deployment ids `shop-eu-prod-<sha10>`. Those ids stay valid where
they exist (the store and Temporal keep them; nothing here parses an id back into names).
`legacy_lane_id` and `legacy_deployment_id` compute the older ids of one exact pair, so that a lane
still running under one drains first (`lockstep.orchestration.lanes.join_lane`) and a deployment
made under one keeps answering for its commit (`lockstep.orchestration.older_ids`). Nothing new is
ever created under an older id.
"""

from __future__ import annotations

SEPARATOR = "."  # no application name can contain it (see the module docstring for environments)
SHA_LENGTH = 10  # of the commit in a deployment id: short enough to read, long enough to be unique
LANE_SUFFIX = "lane"
MAX_ATTEMPT = 999_999_999  # nine digits at most: an attempt never looks like a ten-digit commit


def deployment_id(application: str, environment: str, sha: str, attempt: int = 1) -> str:
    """The id of the `attempt`-th deployment of commit `sha` (a full or abbreviated hex sha) to
    `environment` of `application`."""
    if len(sha) < SHA_LENGTH:
        raise ValueError(f"a deployment id needs at least {SHA_LENGTH} digits of the commit, got {sha!r}")
    base = SEPARATOR.join((application, environment, sha[:SHA_LENGTH]))
    return attempt_id(base, attempt)


def attempt_id(base: str, attempt: int) -> str:
    """The id of the `attempt`-th deployment whose first attempt is `base`."""
    if attempt < 1:
        raise ValueError(f"deployment attempts count from 1, got {attempt}")
    if attempt > MAX_ATTEMPT:
        raise ValueError(f"a commit is deployed at most {MAX_ATTEMPT} times to one environment")
    return base if attempt == 1 else f"{base}{SEPARATOR}{attempt}"


def attempts_prefix(base: str) -> str:
    """What every later attempt of `base` starts with; so does a deployment of an environment
    whose name continues `base`'s with `.` (`a` and `a.0d1a26e67d`): `is_attempt_of` tells."""
    return f"{base}{SEPARATOR}"


def is_attempt_of(base: str, deployment: str) -> bool:
    """Whether `deployment` is `base` or one of its later attempts (`<base>.<n>`, n >= 2)."""
    if deployment == base:
        return True
    rest = deployment.removeprefix(attempts_prefix(base))
    return rest != deployment and rest.isdecimal() and not rest.startswith("0") and len(rest) < SHA_LENGTH


def lane_id(application: str, environment: str) -> str:
    """The lane's workflow id: one lane per (application, environment)."""
    return SEPARATOR.join((application, environment, LANE_SUFFIX))


def is_lane_id(workflow_id: str) -> bool:
    """Whether `workflow_id` is a lane's (today's form): a deployment id never ends in `.lane`."""
    return workflow_id.endswith(SEPARATOR + LANE_SUFFIX)


def legacy_lane_id(application: str, environment: str) -> str:
    """The id the lane of this exact pair had before unambiguous ids (shared with any pair whose
    names join to the same text). Only for finding a lane that still runs under it."""
    return f"lane-{application}-{environment}"


def legacy_deployment_id(application: str, environment: str, sha: str, attempt: int = 1) -> str:
    """The id the `attempt`-th deployment of this exact commit and pair had before unambiguous ids
    (shared with any pair whose names join to the same text: check the record's names). Only for
    finding such a deployment; nothing new is created under it."""
    base = f"{application}-{environment}-{sha[:SHA_LENGTH]}"
    return base if attempt == 1 else f"{base}-{attempt}"
