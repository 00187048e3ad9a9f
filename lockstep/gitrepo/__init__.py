"""Git adapter: bare mirrors of application repositories and per-commit read-only source trees.

The only package that imports GitPython. It does not know about manifests or deployments; a file
past the read bounds of `lockstep.domain.limits` is refused with the domain's ManifestError (it is
a file some manifest names), before its content is read.
"""

from lockstep.domain.redaction import redact, safe_url
from lockstep.gitrepo.mirror import GitMirrors
from lockstep.gitrepo.tree import GitTree

__all__ = ["GitMirrors", "GitTree", "redact", "safe_url"]
