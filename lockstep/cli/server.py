"""`lockstep worker|api|setup`: the long-running processes and one-time cluster setup.

Like every command module, this one imports the heavy libraries (Temporal, the database, the web
stack) in the command that uses them: every `lockstep` process, `--help` included, imports all
the command modules.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import typer

from lockstep.cli.common import console, fail, handles_errors, run_async, settings
from lockstep.domain.temporal_names import SEARCH_ATTRIBUTES
from lockstep.settings import ApiSettings, Settings

WorkerServer = Callable[[Settings], None]  # runs a worker until it is stopped


def worker_command(serve: WorkerServer) -> Callable[[], None]:
    """The `worker` command, running `serve`. The composition root (`workers.cli`) supplies it:
    the workflows and activities a worker runs are above everything in `lockstep`, which never
    imports them."""

    def worker() -> None:
        """Run a worker: the deployment workflows and activities on the configured task queue.

        Example: LOCKSTEP_CONFIG=/etc/lockstep/lockstep-server.yaml lockstep worker

        Docs: docs/operations.md, docs/cli.md#lockstep-worker
        """
        _worker(serve)

    return worker


@handles_errors
def _worker(serve: WorkerServer) -> None:
    serve(settings())  # a configuration error is reported before the worker's imports are paid for


def api() -> None:
    """Serve the HTTP API on api.listen (OpenAPI at /docs).

    Example: LOCKSTEP_CONFIG=/etc/lockstep/lockstep-server.yaml lockstep api

    Docs: docs/api.md, docs/cli.md#lockstep-api
    """
    _api()


@handles_errors
def _api() -> None:
    s = settings()
    listener = _listen(s.api)  # first: a taken port is named before anything else is set up
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from lockstep.api.app import create_app
    from lockstep.security.approval_signing import ApprovalSigner, key_files

    # Made on first start, so the worker finds the public key before the first approval.
    signer = ApprovalSigner.load_or_create(*key_files(s))
    config = uvicorn.Config(create_app(s, signer=signer), log_level="info")
    logging.getLogger("uvicorn.error").info("API listening on http://%s (Ctrl-C to quit)", s.api.listen)
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except SystemExit as ended:  # uvicorn's own exit code for a failed startup is 3; ours is 1
        if ended.code == STARTUP_FAILURE:
            raise fail("the API did not start (see the log above)") from None
        raise


def _listen(api: ApiSettings) -> socket.socket:
    """The API's listening socket, bound as uvicorn would bind it (SO_REUSEADDR)."""
    listener = socket.socket(socket.AF_INET6 if ":" in api.host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((api.host, api.port))
    except OSError as err:
        listener.close()
        raise fail(f"the API cannot listen on {api.listen}: {err.strerror or err} (api.listen)") from None
    return listener


def setup() -> None:
    """Register Lockstep's search attributes, poll schedules and drift sweep schedule on a cluster.

    Run it once per cluster, and again after adding a repository with poll_interval; running it
    again changes nothing else.

    Example: LOCKSTEP_TEMPORAL__ADDRESS=temporal.internal:7233 lockstep setup

    Docs: docs/cli.md#lockstep-setup
    """
    _setup()


@handles_errors
def _setup() -> None:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    from lockstep.orchestration.client import RPC_TIMEOUT, connect
    from lockstep.orchestration.drift_sweep import ensure_drift_schedule
    from lockstep.orchestration.schedules import ensure_poll_schedules

    s = settings()

    async def go() -> tuple[list[str], list[str]]:
        client = await connect(s.temporal)
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=s.temporal.namespace), timeout=RPC_TIMEOUT
        )
        missing = [n for n in SEARCH_ATTRIBUTES if n not in existing.custom_attributes]
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=s.temporal.namespace,
                    search_attributes={n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in missing},
                ),
                timeout=RPC_TIMEOUT,
            )
        polls = await ensure_poll_schedules(client, s)
        return missing, [*polls, await ensure_drift_schedule(client, s)]

    added, schedules = run_async(go())
    if added:
        console.print(f"registered search attributes: {', '.join(added)}")
    else:
        console.print("search attributes already registered")
    console.print(f"poll schedules: {', '.join(schedules[:-1]) or 'none'}")
    paused = " (paused: drift.enabled is false)" if not s.drift.enabled else ""
    console.print(f"drift sweep schedule: {schedules[-1]}{paused}")
    raise typer.Exit(0)
