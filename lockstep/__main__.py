"""`python -m lockstep`: the same program as the `lockstep` console script.

The program is composed above the library (`workers.cli`: the command line plus the worker it
runs), so this file, which only starts it, is the one module of `lockstep` that imports from
`workers`; nothing imports it (pyproject.toml, [tool.importlinter], says so).
"""

from workers.cli import run

run()
