"""Text from elsewhere made safe to print on a terminal.

Command output, file names, diffs of files from a commit under review, Kubernetes object names and
approval comments reach the terminal through `lockstep status` and `lockstep plan`. Control
characters in them (ESC sequences that move the cursor, erase lines, set the window title or
write the clipboard) are shown as `\\x1b`-style escapes instead of being obeyed, and the result is a
rich `Text`, so `[red]` in a file name is not read as markup. Newlines and tabs stay.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` with every control character but newline and tab written as an escape; with
    `one_line` (a name: a file name may hold a newline, which would print a line of its own),
    newline and tab too."""
    shown = _CONTROL.sub(_escape, text)
    return shown.replace("\n", "\\n").replace("\t", "\\t") if one_line else shown


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(text: str) -> Text:
    """`printable(text)` as rich text that is never read as markup."""
    return Text(printable(text))
