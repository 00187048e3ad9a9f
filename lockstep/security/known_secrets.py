"""Which values are secret for this process, and which secrets a worker must not be given.

Owns three answers drawn from the server configuration and an environment:
- the environment variables whose values are secret: `secret_env`, every `*_env` reference
  anywhere in the configuration (a repository's `webhook_secret_env`, ...) and `LOCKSTEP_TOKEN`;
- the credentials written into URLs: repository URLs, `database_url`, `policy.url`;
- the variables only the API needs (webhook secrets), which `lockstep dev` keeps out of the
  worker's environment and `lockstep worker` warns about.

A process can only mask what it knows: the worker, which no longer holds webhook secrets, cannot
recognise them in output, and the API masks again when it shows that output. Values are read
from the environment given, never logged or stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from lockstep.domain.masking import Masker
from lockstep.settings import Settings

# The CLI's own token: secret wherever it appears, and needed by neither the worker nor the API.
CLI_TOKEN_ENV = "LOCKSTEP_TOKEN"


def secret_env_names(settings: Settings) -> set[str]:
    """Names of the environment variables whose values are secret."""
    names = {CLI_TOKEN_ENV}
    _collect_env_references(settings.model_dump(), names)
    return names


def _collect_env_references(node: object, names: set[str]) -> None:
    # By key name, so a setting added later (`dsn_env`, `auth_env`, ...) counts without a change
    # here; `secret_env` itself ends in `_env` and holds a list.
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, str) and key.endswith("_env"):
                listed = value if isinstance(value, list) else [value]
                names.update(v for v in listed if isinstance(v, str) and v)
            else:
                _collect_env_references(value, names)
    elif isinstance(node, list):
        for item in node:
            _collect_env_references(item, names)


def url_credentials(url: str) -> list[str]:
    """The secret part of a URL's user info, as written and percent-decoded.

    `user:password@` gives the password. A user name alone is a credential only on http(s),
    where `https://<token>@host` is how a token is put in a URL; `ssh://git@host` names a user.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return []
    user, colon, password = parts.netloc.rsplit("@", 1)[0].partition(":")
    secret = password if colon else (user if parts.scheme in ("http", "https") else "")
    return sorted({secret, unquote(secret)} - {""})


def known_secret_values(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """Every secret value this configuration names that `environ` (or a URL in it) holds."""
    values = {environ[name] for name in secret_env_names(settings) if environ.get(name)}
    urls = [r.url for r in settings.repositories] + [settings.database_url, settings.policy.url or ""]
    values.update(credential for url in urls for credential in url_credentials(url))
    return sorted(values)


def masker_for(settings: Settings, environ: Mapping[str, str] | None = None) -> Masker:
    """The masker of a process running with `environ` (default: this process's environment)."""
    return Masker(known_secret_values(settings, os.environ if environ is None else environ))


def api_only_env_names(settings: Settings) -> set[str]:
    """Variables only the API reads: the webhook secrets it checks signatures with."""
    return {r.webhook_secret_env for r in settings.repositories if r.webhook_secret_env}


def worker_environment(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without what the worker must not hold. Removing a variable inside a running
    process would not hide it from /proc/<pid>/environ, so this is what the worker is started
    with."""
    dropped = api_only_env_names(settings) | {CLI_TOKEN_ENV}
    return {name: value for name, value in environ.items() if name not in dropped}


def api_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the CLI's token, which the API never reads."""
    return {name: value for name, value in environ.items() if name != CLI_TOKEN_ENV}


def api_only_secrets_held(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """The API-only variables a worker's environment holds anyway (it should be started without)."""
    return sorted(name for name in api_only_env_names(settings) if environ.get(name))
