"""Reading the server configuration: the file, the environment, and relative paths made absolute.

Owns `config_path` (which file), `load_settings` (YAML plus `LOCKSTEP_*` variables, validated,
every problem a `ConfigError` naming the file and the key) and `with_paths_resolved` (every
relative path taken against the configuration file's folder, once; `lockstep.config_paths` states
the rule), with `DEFAULT_POLICY_BUNDLE`, the policy bundle shipped beside the package.
Deliberately not here: the shape of the settings (`lockstep.settings.server` and its sections).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lockstep.config_paths import absolute, absolute_repository, absolute_sqlite_url
from lockstep.domain.errors import ConfigError
from lockstep.settings.sections import PolicySettings
from lockstep.settings.server import Settings
from lockstep.settings.targets import (
    KubernetesTargetSettings,
    LocalTargetSettings,
    SshTargetSettings,
    TargetSettings,
)


def config_path() -> Path | None:
    """The server config file, absolute: `LOCKSTEP_CONFIG`, else `./lockstep-server.yaml`, else the
    one `lockstep dev` wrote (`./.lockstep/lockstep-server.yaml`), if they exist."""
    explicit = os.environ.get("LOCKSTEP_CONFIG")
    if explicit:
        return Path(explicit).expanduser().absolute()
    for default in (Path("lockstep-server.yaml"), Path(".lockstep") / "lockstep-server.yaml"):
        if default.exists():
            return default.absolute()
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the server configuration; a ConfigError names the file and the key.

    Every relative path in it is made absolute here, once (`lockstep.config_paths` says how),
    so that every command finds the same files whatever its working directory.
    """
    path = path or config_path()
    if path is not None:
        path = path.expanduser().absolute()
    raw: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"{path}: server configuration not found (LOCKSTEP_CONFIG)")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        raw = loaded
    try:
        settings = Settings(**raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {_cause(err['msg'])}" for err in e.errors()
        )
        raise ConfigError(f"{path or 'environment'}: {problems}") from e
    return with_paths_resolved(settings, path.parent if path is not None else Path.cwd())


def _cause(message: str) -> str:
    return message.removeprefix("Value error, ")


DEFAULT_POLICY_BUNDLE = Path(__file__).resolve().parents[2] / "policies"


def with_paths_resolved(settings: Settings, base: Path) -> Settings:
    """`settings` with every relative path taken against `base`, the configuration file's folder
    (the working directory without one): state_dir, a SQLite database_url, repositories given as
    local paths, local roots, ssh key_file and known_hosts, kubeconfig files, the API's approval
    key files and policy.path."""
    targets: dict[str, TargetSettings] = {}
    for name, target in settings.targets.items():
        if isinstance(target, LocalTargetSettings):
            target = target.model_copy(update={"root": absolute(target.root, base)})
        elif isinstance(target, SshTargetSettings):
            key_file = absolute(target.key_file, base) if target.key_file is not None else None
            known_hosts = absolute(target.known_hosts, base)
            target = target.model_copy(update={"key_file": key_file, "known_hosts": known_hosts})
        elif isinstance(target, KubernetesTargetSettings) and target.kubeconfig is not None:
            target = target.model_copy(update={"kubeconfig": absolute(target.kubeconfig, base)})
        targets[name] = target
    repositories = [
        r.model_copy(update={"url": absolute_repository(r.url, base)}) for r in settings.repositories
    ]
    api = settings.api.model_copy(
        update={
            name: absolute(value, base)
            for name in ("approval_key_file", "approval_public_key_file")
            if (value := getattr(settings.api, name)) is not None
        }
    )
    update = {
        "api": api,
        "state_dir": absolute(settings.state_dir, base),
        "database_url": absolute_sqlite_url(settings.database_url, base),
        "repositories": repositories,
        "targets": targets,
        "policy": _policy_resolved(settings.policy, base),
    }
    return settings.model_copy(update=update)


def _policy_resolved(policy: PolicySettings, base: Path) -> PolicySettings:
    """A relative `policy.path` is looked up in `base`, then in the working folder (the container
    image keeps its bundle in /app/policies while the file is in /etc/lockstep); the default
    `policies` also falls back to the bundle shipped beside the package. When none exists the
    path is taken against `base`, and the engine fails closed naming it."""
    written = Path(policy.path).expanduser()
    if written.is_absolute():
        return policy
    candidates = [base / written, written.absolute()]
    if policy.path == PolicySettings().path:
        candidates.append(DEFAULT_POLICY_BUNDLE)
    found = next((c for c in candidates if c.is_dir()), base / written)
    return policy.model_copy(update={"path": str(found.resolve())})
