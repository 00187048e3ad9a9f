"""Handing a repository URL's credentials to git without putting them on a command line.

Owns one transformation: `https://user:token@host/repo.git` becomes the URL without user info,
which is what git's argv carries (every process on the machine can read argv), plus environment
variables for the git child only: the user name and password, and a `credential.helper`
configured through `GIT_CONFIG_COUNT` (git >= 2.31) that prints them when git asks, for that
host only. Configured helpers are reset first, so no keychain stores the token and none answers
in its place. ssh and scp-style URLs are left alone: their user name is the ssh login, not a
secret, and ssh takes keys, not passwords.

Deliberately does not: run git, redact messages (`lockstep.domain.redaction`), nor read
credentials from anywhere but the configured URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

USERNAME_VAR = "LOCKSTEP_GIT_USERNAME"
PASSWORD_VAR = "LOCKSTEP_GIT_PASSWORD"
HOST_VAR = "LOCKSTEP_GIT_HOST"

# Run by git as `sh -c '<this> get'` (or store/erase, ignored) with the request on stdin. Only
# variable names appear here; the values stay in the child's environment.
_HELPER = (
    '!f() { test "$1" = get || exit 0; host=; '
    'while read -r line; do case "$line" in host=*) host=${line#host=};; esac; done; '
    f'test "$host" = "${HOST_VAR}" || exit 0; '
    f"printf 'username=%s\\n' \"${USERNAME_VAR}\"; "
    f'test -n "${PASSWORD_VAR}" && printf \'password=%s\\n\' "${PASSWORD_VAR}"; exit 0; }}; f'
)


@dataclass(frozen=True)
class Remote:
    """What git is given for one repository: the URL for argv, and variables for its environment."""

    url: str
    env: Mapping[str, str] = field(default_factory=dict)


def remote(url: str, environ: Mapping[str, str] | None = None) -> Remote:
    """`url` without user info, and the environment that gives git its credentials back.

    `environ` (default `os.environ`) is consulted for configuration entries already passed
    through `GIT_CONFIG_COUNT`, which are kept.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or "@" not in parts.netloc:
        return Remote(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username, has_password, password = userinfo.partition(":")
    username, password = unquote(username), unquote(password) if has_password else ""
    if any(c in value for value in (username, password) for c in "\n\r\0"):
        # git refuses these in the credential protocol; they could smuggle in other attributes
        raise ValueError("repository credentials cannot contain line breaks or NUL")
    current = environ if environ is not None else os.environ
    count_text = current.get("GIT_CONFIG_COUNT", "0")
    first = int(count_text) if count_text.isdigit() else 0
    env = {
        USERNAME_VAR: username,
        PASSWORD_VAR: password,
        HOST_VAR: hostport,  # as git will name it: the URL's host, with its port if it has one
        "GIT_CONFIG_COUNT": str(first + 2),
        f"GIT_CONFIG_KEY_{first}": "credential.helper",
        f"GIT_CONFIG_VALUE_{first}": "",  # an empty value clears the helpers configured so far
        f"GIT_CONFIG_KEY_{first + 1}": "credential.helper",
        f"GIT_CONFIG_VALUE_{first + 1}": _HELPER,
    }
    return Remote(urlunsplit(parts._replace(netloc=hostport)), env)
