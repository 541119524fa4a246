"""An ASGI app served by a real uvicorn in the test's own event loop, on a free loopback port: for
the tests that must see what a client on a socket sees (chunked bodies, WebSocket frames, a
connection dropped without a close frame), which an in-memory transport hides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from tests._infra.ports import LOOPBACK, free_port

#: How long the server may take to start listening (a liveness bound for a loaded machine).
START_TIMEOUT_S = 10.0
POLL_S = 0.02


@asynccontextmanager
async def uvicorn_serving(app: Any, **options: Any) -> AsyncIterator[str]:
    """Serves ``app`` (httptools, lifespan on, warnings only; ``options`` add to or override the
    ``uvicorn.Config``) until the block ends; yields its address, ``host:port``."""
    port = free_port()
    settings: dict[str, Any] = {"http": "httptools", "lifespan": "on", "log_level": "warning", **options}
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, **settings))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(int(START_TIMEOUT_S / POLL_S)):
            if server.started or task.done():
                break
            await asyncio.sleep(POLL_S)
        assert server.started, "uvicorn did not start listening"
        yield f"{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
