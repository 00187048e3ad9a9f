"""Writing a generated file, or (`--check`) failing when the committed one is stale."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_or_check(target: Path, text: str, argv: list[str], *, command: str) -> int:
    """Write `text` to `target`; with `--check` in `argv`, exit status 1 if `target` differs."""
    shown = target.relative_to(ROOT)
    if "--check" in argv:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{shown} is stale: run `make docs` ({command})\n")
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {shown}\n")
    return 0
