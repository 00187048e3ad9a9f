"""Lockstep: a GitOps deployment orchestrator on Temporal.

The core package owns everything that is not Temporal glue: the domain model, the manifest,
planning, targets, the store, the Git adapter, the API and the CLI. The top-level `workflows/`,
`activities/` and `workers/` folders stay thin and import from here.
"""

__version__ = "0.1.0"
