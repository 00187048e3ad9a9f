"""`{{ placeholders }}`: what one looks like, the values an environment offers, and substitution.

Owns the placeholder syntax, the values every environment gets for free (`application`,
`environment`; its own `values` win over them), one-pass substitution with a bound on how much it
may grow a text, and the wording of an unresolved-placeholder error.

Deliberately does not: decide which strings of a component are rendered or report errors with a
file and key (`render` and `loader` do, each for the strings it handles), or read files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


class RenderTooLarge(ValueError):
    """Substitution would grow a text past the limit it was given."""


def has_placeholders(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


def environment_values(application: str, environment: str, values: Mapping[str, str]) -> dict[str, str]:
    """What an environment's placeholders resolve to: the built-ins, then its own values."""
    return {"application": application, "environment": environment, **values}


def substitute(
    text: str, values: Mapping[str, str], *, max_chars: int | None = None
) -> tuple[str, list[tuple[str, int]]]:
    """`text` with known placeholders replaced, and the unresolved ones as (name, line) pairs.

    With `max_chars`, RenderTooLarge is raised as soon as the result would exceed it, before the
    whole text is built: a short placeholder repeated a million times must not fill memory.
    """
    missing: list[tuple[str, int]] = []
    size = len(text)

    def replace(m: re.Match[str]) -> str:
        nonlocal size
        name = m.group(1)
        if name not in values:
            missing.append((name, text.count("\n", 0, m.start()) + 1))
            return m.group(0)
        value = values[name]
        size += len(value) - len(m.group(0))
        if max_chars is not None and size > max_chars:
            raise RenderTooLarge(f"substituting placeholders makes it longer than {max_chars} characters")
        return value

    # One pass only: a value that itself contains {{ x }} is delivered literally, never re-expanded.
    return PLACEHOLDER.sub(replace, text), missing


def unresolved_message(
    name: str, where: str, count: int, *, environment: str, defined: Mapping[str, str]
) -> str:
    """'unresolved placeholder {{ x }} at line 3 (environment 'staging' defines: a, b; 1 more …)'."""
    names = ", ".join(sorted(defined))
    env = f"environment '{environment}' " + (f"defines: {names}" if names else "defines no values")
    more = f"; {count - 1} more unresolved" if count > 1 else ""
    return f"unresolved placeholder {{{{ {name} }}}}{where} ({env}{more})"
