"""A WebSocket client speaking ASGI directly to the app (no network), for graphql-transport-ws tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import ASGIApp, Message


class AsgiWebSocket:
    def __init__(self, app: ASGIApp, path: str = "/graphql", subprotocol: str = "graphql-transport-ws") -> None:
        self._app = app
        self._scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"facade.test"), (b"sec-websocket-protocol", subprotocol.encode())],
            "subprotocols": [subprotocol],
            "client": ("127.0.0.1", 50000),
            "server": ("facade.test", 80),
            "state": {},
        }
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.accepted_subprotocol: str | None = None
        self.close_code: int | None = None

    async def _receive(self) -> Message:
        return await self._to_app.get()

    async def _send(self, message: Message) -> None:
        await self._from_app.put(message)

    async def connect(self) -> None:
        self._task = asyncio.create_task(self._app(self._scope, self._receive, self._send))
        await self._to_app.put({"type": "websocket.connect"})
        message = await self._next_raw(5)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code")
            raise ConnectionRefusedError(f"closed with {self.close_code}")
        assert message["type"] == "websocket.accept", message
        self.accepted_subprotocol = message.get("subprotocol")

    async def _next_raw(self, timeout: float) -> Message:
        async with asyncio.timeout(timeout):
            return await self._from_app.get()

    async def send(self, payload: dict[str, Any]) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(payload)})

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next JSON message; raises ConnectionError when the server closed the socket."""
        message = await self._next_raw(timeout)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code")
            raise ConnectionError(f"closed with {self.close_code}: {message.get('reason')}")
        text = message.get("text") or message.get("bytes", b"").decode()
        result: dict[str, Any] = json.loads(text)
        return result

    async def init(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})

    async def close(self) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                async with asyncio.timeout(5):
                    await self._task


@contextlib.asynccontextmanager
async def websocket(app: ASGIApp) -> AsyncIterator[AsgiWebSocket]:
    ws = AsgiWebSocket(app)
    await ws.connect()
    try:
        yield ws
    finally:
        await ws.close()
