"""`lockstep drift --sweep-now`: run the drift sweep now, wait for it, and say what it swept.

`sweep_and_wait` is what the `drift` command calls for `--sweep-now`, before it shows what the
sweep recorded. With LOCKSTEP_TOKEN the sweep is asked of the API
(`POST /drift/sweep?wait=true`, as the token's user), else started on Temporal directly
(`lockstep.orchestration.drift_sweep.start_sweep`); either way it waits for the result.

Deliberately does not: show drift items (`lockstep drift` reads them from the store), nor fail on
drift: finding drift is the sweep working, so it exits 0 whatever the environments' states.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lockstep.cli.common import console, fail, settings
from lockstep.cli.terminal import plain

if TYPE_CHECKING:
    from lockstep.domain.sweep_messages import SweepResult

_API_WAIT = 3600.0  # seconds the CLI waits for the API's answer to a sweep with wait=true


def sweep_and_wait(*, quiet: bool) -> SweepResult:
    """Start a sweep now and wait for it; unless `quiet`, say what it swept (a line per
    environment and a summary). Finding drift is not a failure."""
    token = os.environ.get("LOCKSTEP_TOKEN", "").strip()
    result = _through_api(token) if token else _on_temporal(quiet=quiet)
    if not quiet:
        _print(result)
    return result


def _on_temporal(*, quiet: bool) -> SweepResult:
    from lockstep.cli.common import run_async
    from lockstep.orchestration.client import connect
    from lockstep.orchestration.drift_sweep import start_sweep

    s = settings()

    async def go() -> SweepResult:
        handle = await start_sweep(await connect(s.temporal), s)
        if not quiet:
            console.print(f"sweeping: {handle.id}", highlight=False)
        return await handle.result()

    return run_async(go())


def _through_api(token: str) -> SweepResult:
    import httpx

    from lockstep.cli.approvals import api_url, refusal
    from lockstep.domain.sweep_messages import SweepResult

    try:
        response = httpx.post(
            f"{api_url()}/drift/sweep",
            params={"wait": "true"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=_API_WAIT,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        raise fail(f"cannot reach the Lockstep API at {api_url()}: {err} (LOCKSTEP_API_URL)") from err
    if response.status_code != 200:
        raise fail(refusal("drift sweep", response, "docs/api.md#sweep-for-drift-now"))
    return SweepResult.model_validate(response.json()["result"])


def _print(result: SweepResult) -> None:
    for swept in result.environments:
        line = f"{swept.application}/{swept.environment}  {swept.state}  {_count(swept.items, 'item')}"
        if swept.pending:
            line += f", {_count(swept.pending, 'commit')} pending"
        if swept.reason:
            line += f"  ({swept.reason})"
        if swept.remediation:
            line += f"; remediation {swept.remediation}"
        console.print(plain(line))
    counts = ", ".join(f"{n} {state}" for state, n in sorted(result.counts().items()))
    total = _count(len(result.environments), "environment")
    console.print(plain(f"swept {total}: {counts or 'none deployed'}"))
    if result.omitted:
        console.print(plain(f"{result.omitted} more environments past the bound were not swept this time"))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
