"""Masking known secret values in text: command output before it is stored and when it is shown.

Owns the replacement itself, given the values: every occurrence of a known secret becomes
`***`, longest value first, so a secret that contains another is masked whole. Which values are
secret (webhook secrets, repository credentials, variables the server configuration marks
secret) is decided by `lockstep.security.known_secrets`; this module does no I/O.

It deliberately does not guess: text that merely looks like a token is left alone, and a value
shorter than `MIN_SECRET_LENGTH` is never masked, since replacing every "ab" or "1" would
garble the output without protecting anything (a secret that short is no secret). An encoded
form of a secret (base64 in a Basic auth header, say) is not recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import overload

MASK = "***"
MIN_SECRET_LENGTH = 4

# Where `lockstep.targets.host.OutputTail` cut a command's output: the first bytes after it may
# be the end of a secret whose beginning was dropped, which full-value matching cannot see.
_CUT = r"\[\.\.\. \d+ bytes truncated\]\n"


def _alternation(values: Iterable[str]) -> str:
    # Longest first: at each position the longest matching value wins.
    return "|".join(re.escape(v) for v in sorted(set(values), key=lambda v: (-len(v), v)))


class Masker:
    """Replaces the secret values it was given with `***`; `Masker(())` masks nothing."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self._whole = re.compile(_alternation(values)) if values else None
        ends = {v[-n:] for v in values for n in range(MIN_SECRET_LENGTH, len(v))}
        self._cut_end = re.compile(f"({_CUT})(?:{_alternation(ends)})") if ends else None

    def __bool__(self) -> bool:
        return self._whole is not None

    @overload
    def mask(self, text: str) -> str: ...

    @overload
    def mask(self, text: None) -> None: ...

    def mask(self, text: str | None) -> str | None:
        """`text` with every known secret replaced by `***` (None stays None), and the end of a
        secret whose beginning a truncation dropped replaced too."""
        if not text or self._whole is None:
            return text
        masked = self._whole.sub(MASK, text)
        if self._cut_end is not None:
            masked = self._cut_end.sub(lambda cut: cut.group(1) + MASK, masked)
        return masked
