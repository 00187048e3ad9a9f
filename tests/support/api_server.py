"""The API served by uvicorn on a loopback port, in a thread: real HTTP, as `lockstep api` serves it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from lockstep.api.app import create_app
from lockstep.settings import Settings
from lockstep.store.engine import Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Serve the API of `settings` (its `api.listen` port) until the block ends; yields its URL."""
    store = Store.from_url(settings.database_url)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, store=store),
            host=settings.api.host,
            port=settings.api.port,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://{settings.api.host}:{settings.api.port}"
    finally:
        server.should_exit = True
        thread.join(10)
        store.dispose()
