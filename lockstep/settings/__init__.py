"""The server configuration (docs/configuration.md): one validated settings object, grouped by concern.

Loaded from the YAML file named by `LOCKSTEP_CONFIG` (default `lockstep-server.yaml` when it
exists), with every value overridable by `LOCKSTEP_*` environment variables (`__` separates
nesting: `LOCKSTEP_TEMPORAL__ADDRESS`). Secrets are referenced by environment-variable name and
never stored here. Unknown keys are errors, as in the application manifest, and so is a duration,
size or count past its bound (`lockstep.domain.bounds`), whether it came from the file or from a
variable. `load_settings` makes every relative path absolute, once, against the configuration
file's folder (`lockstep.config_paths` states the rule). The fields' descriptions are the ones
editors show: they become the committed JSON Schema (`lockstep schema server`).

This package is imported as one: `from lockstep.settings import Settings` and every name below.
Its modules each own a part: `server` the root `Settings` object, `sections` the sections other
than targets, `targets` the target settings, `loading` reading the file and the environment and
resolving paths. Nothing here connects to anything.
"""

from lockstep.settings.loading import (
    DEFAULT_POLICY_BUNDLE,
    config_path,
    load_settings,
    with_paths_resolved,
)
from lockstep.settings.sections import (
    ApiSettings,
    DeploymentSettings,
    DriftSettings,
    PolicySettings,
    RepositorySettings,
    TemporalSettings,
    UserSettings,
)
from lockstep.settings.server import Settings
from lockstep.settings.targets import (
    KubernetesTargetSettings,
    LocalTargetSettings,
    SshTargetSettings,
    TargetSettings,
)

__all__ = [
    "DEFAULT_POLICY_BUNDLE",
    "ApiSettings",
    "DeploymentSettings",
    "DriftSettings",
    "KubernetesTargetSettings",
    "LocalTargetSettings",
    "PolicySettings",
    "RepositorySettings",
    "Settings",
    "SshTargetSettings",
    "TargetSettings",
    "TemporalSettings",
    "UserSettings",
    "config_path",
    "load_settings",
    "with_paths_resolved",
]
