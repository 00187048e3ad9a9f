"""Keeping credentials out of what is shown, logged or stored: URLs without their user info.

Pure string functions; every module that prints or records a URL goes through them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


def redact(text: str) -> str:
    """`text` with the user info (`user:password@`) of every URL in it removed."""
    return _USERINFO.sub(r"\1", text)


def safe_url(url: str) -> str:
    """A URL as it may be shown or stored: without user info."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return redact(url)
