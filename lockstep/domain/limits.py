"""The bounds on what Lockstep parses: files read from Git, YAML, webhook JSON and ref names.

Owns the numbers, in one place so that the documentation (README "Limits", docs/webhooks.md) and
every reader agree, and the wording of a refusal, so the CLI, the API and the worker say the same
thing about the same file. Every bound is checked before the work it protects is done: a file's
size before its content is read, YAML nesting and alias expansion while the document is
composed (before anything is built from it), a ref's length before git sees it.

Deliberately does not: enforce anything itself (the Git adapter, the manifest loader and the
webhook router do, each where the data enters), nor hold the webhook body size and rate limits,
which are per-router settings (`lockstep.webhooks.limits.WebhookLimits`).
"""

from __future__ import annotations

from lockstep.domain.errors import ManifestError

KIB = 1024
MIB = 1024 * KIB

# lockstep.yaml: a large estate's manifest is tens of KiB; 1 MiB leaves two orders of magnitude.
MANIFEST_MAX_BYTES = 1 * MIB
# One Kubernetes YAML file, placeholders substituted. The API server refuses requests past 3 MiB
# and etcd objects past 1.5 MiB; the largest real CRD bundles are around 2 MiB.
KUBERNETES_FILE_MAX_BYTES = 4 * MIB
# Any one file a render reads from a commit (host files included). Renders hold files in memory;
# artefacts larger than this belong in an artefact store, not in the repository Lockstep renders.
SOURCE_FILE_MAX_BYTES = 32 * MIB
# Everything one render reads from one commit (every file of every component of one environment).
SOURCE_READ_MAX_BYTES = 128 * MIB
# A symlink's target is a path: Linux's PATH_MAX.
SYMLINK_TARGET_MAX_BYTES = 4 * KIB

# Nesting of YAML collections, counted after aliases are expanded, and of webhook JSON bodies.
# Real Kubernetes CRD schemas reach about 40 levels; parsers and validators recurse per level,
# and 100 levels stay well inside Python's recursion limit wherever they run.
MAX_NESTING_DEPTH = 100
# Nodes (scalars, lists, mappings) of one YAML file with every alias expanded: a 4 MiB manifest
# without aliases has fewer. Aliases are shared while parsing but copied by every consumer
# (validation, hashing, JSON for the API server), so their expanded size is what costs memory.
YAML_MAX_NODES = 1_000_000
# Characters of scalar text in one YAML file with every alias expanded (an alias of a long string
# repeated is as costly as many nodes).
YAML_MAX_TEXT_CHARS = 16 * MIB

# Git ref names: a component is a file name in a ref store (NAME_MAX); the whole name is bounded
# well below what a command line can carry.
REF_MAX_BYTES = 1 * KIB
REF_COMPONENT_MAX_BYTES = 255


def size_text(size: int) -> str:
    """A byte count as people read it: `1 MiB`, `50.5 MiB`, `4 KiB`; exact (`1,048,577 bytes`)
    where a rounded figure would look equal to a bound."""
    for unit, scale in (("MiB", MIB), ("KiB", KIB)):
        if size >= scale:
            if size % scale == 0:
                return f"{size // scale} {unit}"
            if round(size / scale, 1) != size // scale:
                return f"{size / scale:.1f} {unit}"
            break
    return f"{size:,} bytes"


def file_too_large(path: str, size: int, limit: int, what: str = "a file") -> ManifestError:
    """The refusal of a file past its size bound, before its content is read.

    Not retryable: the same commit always has the same file.
    """
    return ManifestError(path, "", f"{size_text(size)} is larger than the {size_text(limit)} {what} may have")


def read_budget_exceeded(path: str, limit: int) -> ManifestError:
    """The refusal of a read that would take one render past `SOURCE_READ_MAX_BYTES`."""
    return ManifestError(
        path,
        "",
        f"reading it would take this render past {size_text(limit)} read from one commit; "
        "keep large artefacts out of the repository",
    )
