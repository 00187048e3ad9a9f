"""Write `schemas/*.json`, the JSON Schemas editors use, from the pydantic models (`make schemas`).

Run it after changing a field of `lockstep.yaml` or of the server configuration, and commit the
result; `tests/test_editor_schemas.py` fails while a committed schema is stale. With `--check` it
writes nothing and exits 1 when a file differs, naming it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's own code, whatever the venv's install points at

from lockstep.editor_schemas import FILE_NAMES, render  # noqa: E402


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, file_name in FILE_NAMES.items():
        path = ROOT / "schemas" / file_name
        text = render(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not check:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if check else 'wrote'} {path}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
