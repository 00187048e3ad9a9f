"""Write docs/openapi.json, the OpenAPI document of the HTTP API: `python -m scripts.gen_openapi`
(or `make docs`); `--check` exits 1 when the file on disk differs.

The app is built by `lockstep.api.app.create_app` exactly as `lockstep api` builds it, but on
the default settings (reads need a token, as they do unless `api.anonymous_read`) and an
in-memory SQLite store: no server starts, no database or Temporal is reached, no file is
written but the document. The settings are constructed, not loaded, so no `LOCKSTEP_*` variable
or configuration file of the machine running it changes the output; keys are sorted and the
indentation fixed, so the same code gives the same bytes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from scripts.generated_file import ROOT, write_or_check

TARGET = ROOT / "docs" / "openapi.json"
COMMAND = "python -m scripts.gen_openapi"


def document() -> dict[str, Any]:
    from lockstep.api.app import create_app
    from lockstep.settings import Settings
    from lockstep.store.engine import Store

    store = Store.from_url("sqlite://")
    try:
        spec: dict[str, Any] = create_app(Settings.model_construct(), store=store).openapi()
    finally:
        store.dispose()
    return spec


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    return write_or_check(TARGET, render(), argv, command=COMMAND)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
