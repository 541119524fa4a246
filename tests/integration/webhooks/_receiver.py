"""A webhook receiver on loopback, as a partner would write one, for the tests and the benchmark.

One asyncio HTTP/1.1 server (keep-alive, optional TLS) serves any number of routes; each route
plays one partner's endpoint:

* it verifies every request with the ``standardwebhooks`` package (the secrets it knows), and
  answers 401 to a bad signature;
* it processes each ``webhook-id`` once (the deduplication a receiver must do: delivery is at
  least once), in the order it first processed them;
* it fails at random (``fail_before``: 500 without processing, ``fail_after``: processes, then
  500 -- the case that makes the sender retry what was already applied; ``delay_after_s``:
  processes, then answers late), hangs (``hang``:
  answers nothing until the test ends), answers slowly (``delay_s``), or refuses everything
  (``status`` other than 2xx, without processing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests._infra.ports import LOOPBACK

__all__ = ["Delivered", "Receiver", "Route", "running_receiver"]


@dataclass(frozen=True)
class Delivered:
    webhook_id: str
    payload: dict[str, Any]
    headers: dict[str, str]
    #: time.monotonic() when it was first processed.
    at: float


@dataclass
class Route:
    secrets: list[str]
    fail_before: float = 0.0
    fail_after: float = 0.0
    hang: bool = False
    delay_s: float = 0.0
    #: Processes, then waits this long before answering (a sender killed meanwhile must retry).
    delay_after_s: float = 0.0
    status: int = 200
    seed: int = 0
    #: Every webhook-id once, in the order first processed.
    processed: list[Delivered] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    duplicates: Counter[str] = field(default_factory=Counter)
    #: Every request: (webhook-id, answer status).
    attempts: list[tuple[str, int]] = field(default_factory=list)
    bad_signatures: int = 0
    in_progress: int = 0
    #: Which of ``secrets`` verified each request (by index), for rotation tests.
    verified_by: list[tuple[int, ...]] = field(default_factory=list)
    #: Every verified request: (webhook-id, payload), retries included.
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def payloads(self) -> list[dict[str, Any]]:
        return [d.payload for d in self.processed]

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        good = []
        for index, secret in enumerate(self.secrets):
            with contextlib.suppress(WebhookVerificationError):
                Webhook(secret).verify(body, headers)
                good.append(index)
        self.verified_by.append(tuple(good))
        return bool(good)

    def process(self, body: bytes, headers: dict[str, str]) -> None:
        webhook_id = headers["webhook-id"]
        self.requests.append((webhook_id, json.loads(body)))
        if webhook_id in self.seen:
            self.duplicates[webhook_id] += 1
            return
        self.seen.add(webhook_id)
        self.processed.append(Delivered(webhook_id, json.loads(body), headers, time.monotonic()))

    def roll(self) -> float:
        return self._random.random()


class Receiver:
    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._closing = asyncio.Event()
        self.port = 0
        self.requests = 0

    def route(self, path: str, secrets: list[str], **behaviour: Any) -> Route:
        route = Route(list(secrets), **behaviour)
        self.routes[path] = route
        return route

    def url(self, path: str, host: str = LOOPBACK) -> str:
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not reader.at_eof():
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines:
                    if ":" in line:
                        key, _, value = line.partition(":")
                        headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                status = await self._answer(request_line.split(" ")[1], body, headers)
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, IndexError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        route = self.routes.get(path)
        if route is None:
            return 404
        webhook_id = headers.get("webhook-id", "")
        route.in_progress += 1
        try:
            if route.hang:
                await self._closing.wait()
                return 503
            if route.delay_s:
                await asyncio.sleep(route.delay_s)
            status = self._decide(route, body, headers)
            if route.delay_after_s:
                await asyncio.sleep(route.delay_after_s)
        finally:
            route.in_progress -= 1
        route.attempts.append((webhook_id, status))
        return status

    @staticmethod
    def _decide(route: Route, body: bytes, headers: dict[str, str]) -> int:
        if not route.verify(body, headers):
            route.bad_signatures += 1
            return 401
        roll = route.roll()
        if roll < route.fail_before or route.status >= 300:
            return 500 if route.status < 300 else route.status
        route.process(body, headers)
        if roll < route.fail_before + route.fail_after:
            return 500
        return route.status


@contextlib.asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on loopback, closed at the end (the tests' ``receiver`` fixtures)."""
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.close()
