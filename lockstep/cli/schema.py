"""`lockstep schema manifest|server`: print the JSON Schema of `lockstep.yaml` or of the server
configuration, for editors (docs/editor-setup.md).

Prints exactly what `schemas/*.json` commits, so `lockstep schema manifest > lockstep.schema.json`
gives a repository the schema of the Lockstep it deploys with. Reads no configuration and needs
no server; a name other than `manifest` or `server` is bad usage (exit 2, from typer).
"""

from __future__ import annotations

import sys

import typer

from lockstep.editor_schemas import SchemaName, render


def schema(
    name: SchemaName = typer.Argument(
        ...,
        metavar="manifest|server",
        help="manifest (lockstep.yaml) or server (the server configuration)",
        show_default=False,
    ),
) -> None:
    """Print the JSON Schema of lockstep.yaml (manifest) or of the server configuration (server),
    for an editor's yaml-language-server to complete and check them.

    Example: lockstep schema manifest > lockstep.schema.json

    Docs: docs/editor-setup.md, docs/cli.md#lockstep-schema
    """
    sys.stdout.write(render(name))
