"""Every bound on a duration, size or count a user writes, in `lockstep.yaml` or the server config.

One table, so the docs can cite it and a reviewer can judge the numbers side by side. A value past
a bound is refused when the file is read, naming the key and the bound, before anything runs: a
manifest by `lockstep plan` (and by the deployment that renders it), the server configuration by
every command that loads it. The numbers are generous for real estates and small enough that no
value can wedge a workflow, exhaust a worker's memory or overflow time arithmetic.

Deliberately does not: validate anything (`lockstep.manifest.schema` and `lockstep.settings`
apply these), or bound YAML nesting and file sizes (the YAML loader and the Git reader do).
"""

from __future__ import annotations

from lockstep.domain.durations import DurationBounds

# --- lockstep.yaml: durations -------------------------------------------------------------------

# A deployment workflow has a 30-day execution timeout that includes its time queued in the lane,
# its rounds of approval and the deploy itself: the approval window must end well inside it.
APPROVAL_TIMEOUT = DurationBounds("1s", "14d")
# Health runs inside one deploy activity (`deployment.activity_timeout`, at most 12h).
HEALTH_TIMEOUT = DurationBounds("100ms", "6h")
# Between two rounds of health checks; an explicitly written interval must not exceed the timeout.
HEALTH_INTERVAL = DurationBounds("100ms", "10m")
# One HTTP request of an http health check.
HTTP_CHECK_TIMEOUT = DurationBounds("100ms", "5m")

# --- lockstep.yaml: counts ----------------------------------------------------------------------

MAX_ENVIRONMENTS = 50
MAX_COMPONENTS = 500
MAX_DEPENDS_ON = 100  # per component
MAX_TARGET_BINDINGS = 100  # logical targets bound per environment
MAX_VALUES = 500  # placeholder values per environment
MAX_APPROVALS_REQUIRED = 100
MAX_APPROVAL_GROUPS = 20
MAX_FILE_MAPPINGS = 100  # host.files per component
MAX_COMMANDS = 50  # host.deploy, and health.commands, per component
MAX_HTTP_CHECKS = 20  # health.http per component

# --- lockstep.yaml: sizes (characters) ----------------------------------------------------------

MAX_NAME_CHARS = 255  # branch, logical target, target, group and value names
MAX_PATH_CHARS = 1024  # src, dest, kubernetes.manifests
MAX_URL_CHARS = 2048  # health.http[].url
MAX_COMMAND_CHARS = 16 * 1024  # one deploy or health command; longer scripts belong in a file
MAX_VALUE_CHARS = 64 * 1024  # one placeholder value (a certificate chain fits)
# Substituting values may grow a text file up to this size (a file already larger than it may
# still be delivered, but not grow): a few short placeholders repeated cannot fill the worker.
MAX_RENDERED_FILE_BYTES = 16 * 1024 * 1024

# --- server configuration -----------------------------------------------------------------------

# One deploy or rollback activity: delivery to every host of a batch, commands and health.
ACTIVITY_TIMEOUT = DurationBounds("10s", "12h")
HEARTBEAT_TIMEOUT = DurationBounds("1s", "10m")
COMMAND_TIMEOUT = DurationBounds("1s", "12h")
# How often a lane checks that its running deployment still lives, and a queued deployment that
# its lane still knows it (re-joining a lane that was replaced).
LANE_CHECK_INTERVAL = DurationBounds("1s", "1d")
# How long a stopping worker lets activities in flight finish (as long as one activity may run).
SHUTDOWN_TIMEOUT = DurationBounds("0s", "12h")
DRIFT_INTERVAL = DurationBounds("30s", "7d")  # a sweep reads every target: not more often
# Environments one drift sweep compares at once: each reads all its targets (SSH, Kubernetes).
MAX_DRIFT_CONCURRENCY = 32
# Environments one drift sweep covers: three history events and one summary line each keep the
# sweep's history far below Temporal's 50,000 events and its result below the 2 MB payload limit
# (1000 x ~300 bytes), so it needs no continue-as-new. Past it, the rest are left out and counted.
MAX_DRIFT_ENVIRONMENTS = 1000
POLL_INTERVAL = DurationBounds("30s", "7d")
SSH_CONNECT_TIMEOUT = DurationBounds("1s", "5m")
SSH_KEEPALIVE = DurationBounds("1s", "10m")
SSH_IO_TIMEOUT = DurationBounds("1s", "1h")

MIN_OUTPUT_BYTES = 256
MAX_OUTPUT_BYTES = 1024 * 1024  # command output kept per step record
MAX_SSH_HOSTS = 1000  # per ssh target
MAX_SSH_BATCH = 1000
MAX_KEEP_RELEASES = 100
MAX_REPOSITORIES = 1000
MAX_TARGETS = 1000
MAX_TARGET_NAMESPACES = 1000  # a kubernetes target's `namespaces`
MAX_USERS = 10000
MAX_USER_GROUPS = 100  # groups one user belongs to
