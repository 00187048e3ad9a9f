"""The `lockstep` program: the command line of `lockstep.cli`, with a `worker` command that runs
this package's worker (`workers.main`).

The composition root of the command line, as `workers.main` is of the worker: `lockstep` (the
console script) and `python -m lockstep` both run `run`. The library below never imports the
workers, workflows or activities, so the one command that needs them gets them from here.
Every `lockstep` process imports this module, `--help` included: the worker's own imports
(Temporal, the workflows, the activities, the store) wait until `lockstep worker` runs.
"""

from __future__ import annotations

from lockstep.cli.main import build_app, exit_code, leave
from lockstep.settings import Settings


def serve_worker(settings: Settings) -> None:
    """Run the worker until it is stopped (SIGINT, SIGTERM)."""
    from workers.main import run

    run(settings)


app = build_app(serve_worker)


def run() -> None:
    leave(exit_code(app))
