"""Loading, validating and rendering an application's `lockstep.yaml` (docs/manifest.md).

`load_manifest` reads and validates the manifest of one commit; `render_environment` turns one
environment of it into `RenderedComponent`s with placeholders resolved and content hashed. Pure:
no Git, no targets, no store; the caller hands in a `SourceTree` and the server's target types.
"""

from lockstep.manifest.components import (
    ComponentSpec,
    FileSpec,
    HealthModel,
    HostSpec,
    KubernetesSpec,
)
from lockstep.manifest.loader import check_references, environment, load_manifest
from lockstep.manifest.render import render_environment
from lockstep.manifest.schema import ApprovalsSpec, EnvironmentSpec, Manifest

__all__ = [
    "ApprovalsSpec",
    "ComponentSpec",
    "EnvironmentSpec",
    "FileSpec",
    "HealthModel",
    "HostSpec",
    "KubernetesSpec",
    "Manifest",
    "check_references",
    "environment",
    "load_manifest",
    "render_environment",
]
