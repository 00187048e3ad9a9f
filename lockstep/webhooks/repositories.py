"""Which configured repository a webhook delivery is about, and that repository's secret.

Owns URL normalisation for matching (lowercase scheme and host, no credentials, no trailing
slash or `.git`, scp-style `git@host:path` read as `ssh://host/path`, local paths made absolute)
and the rule that a repository without a non-empty secret accepts no webhook.

Deliberately does not: say anything about unmatched deliveries (the router answers them exactly
as a wrong signature, 401, so no caller learns which repositories exist), nor keep secrets: they
are read from the environment on each delivery, so rotating one needs no restart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from lockstep.settings import RepositorySettings
from lockstep.webhooks.events import RepositoryIdentity

_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?!//)(?P<path>.+)$")


def normalise_url(url: str) -> str:
    """A repository URL in the form two spellings of the same repository share."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return _local(parts.path)
        host = (parts.hostname or "").lower()
        port = f":{parts.port}" if parts.port else ""
        return f"{scheme}://{host}{port}/{_trim(parts.path)}"
    scp = _SCP_LIKE.match(url)
    if scp and not url.startswith((".", "/", "~")):
        return f"ssh://{scp['host'].lower()}/{_trim(scp['path'])}"
    return _local(url)


def match_repository(
    repositories: Sequence[RepositorySettings], identity: RepositoryIdentity
) -> RepositorySettings | None:
    """The configured repository whose `name` equals one of the payload's names (case does not
    matter, as on GitHub and GitLab), else the first whose `url` equals one of its URLs once both
    are normalised. A name is what the operator set for webhooks, so it wins over a URL."""
    names = {n.casefold() for n in identity.names}
    for repo in repositories:
        if repo.name is not None and repo.name.casefold() in names:
            return repo
    urls = {_safe_normalise(u) for u in identity.urls} - {None}
    for repo in repositories:
        if _safe_normalise(repo.url) in urls:
            return repo
    return None


def webhook_secret(repo: RepositorySettings, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret from the environment variable `repo.webhook_secret_env` names; None when no
    variable is named or it is unset or empty (such a repository accepts no webhook)."""
    if not repo.webhook_secret_env:
        return None
    value = (os.environ if environ is None else environ).get(repo.webhook_secret_env, "")
    return value or None


def _safe_normalise(url: str) -> str | None:
    try:
        return normalise_url(url)
    except ValueError:  # e.g. a port that is not a number
        return None


def _trim(path: str) -> str:
    path = path.strip("/")
    return path.removesuffix(".git").rstrip("/")


def _local(path: str) -> str:
    return "/" + _trim(os.path.abspath(os.path.expanduser(path)))
