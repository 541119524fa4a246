"""In-process CPU of the facade per request, over the fake backend (a measurement helper, not a test).

The facade runs with the response cache off (every request executes) and is driven through ASGI
directly (no HTTP client in the process). The fake backend answers each distinct request once and then
replays the same bytes (``FromString``), so what is measured is the facade's own work (auth, limits,
pipeline, execution, JSON) plus the parsing of the services' answers, not the fake's.

Run it in the tree to measure (it imports the facade from the current directory)::

    .venv/bin/python -m tests.unit.graphql_facade.facade_cpu --runs 5 --requests 200

It prints the CPU per request (``time.process_time``, minimum over the runs) for the board and the
dashboard, both with compiled plans and, when the tree has the switch, with ``MES_FACADE_COMPILED=0``;
the collector is set as the server sets it once started, when the tree does (``--no-server-gc``: not).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from mes.orders.v1 import orders_pb2 as ords
from tests.unit.graphql_facade.conftest import OPERATOR_TOKEN, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

BOARD = """query Board { orders(first: 100) { nodes {
  id partnerId partnerReference status priority dueTime
  lines { styleCode alloyCode size quantity }
  workOrders { id status } } } }"""
DASHBOARD_FILE = Path("perf/queries/dashboard.graphql")


class ReplayingBackend(FakeBackend):
    """A fake backend that computes each distinct answer once, then replays its serialized bytes."""

    def __init__(self) -> None:
        super().__init__()
        self._answers: dict[tuple[str, bytes, tuple[tuple[str, str], ...]], tuple[type[Message], bytes]] = {}

    async def dispatch(self, method: str, request: Message, metadata: Any) -> Any:
        partner = tuple((k, v) for k, v in metadata if k == "x-mes-partner")
        key = (method, request.SerializeToString(deterministic=True), partner)
        found = self._answers.get(key)
        if found is None:
            answer = await super().dispatch(method, request, metadata)
            found = (type(answer), answer.SerializeToString())
            self._answers[key] = found
        return found[0].FromString(found[1])


def floor(orders: int) -> ReplayingBackend:
    backend = ReplayingBackend()
    backend.add_catalogue()
    for i in range(orders):
        order = backend.add_order(f"partner-{i % 20}", lines=3, status=ords.ORDER_STATUS_IN_PRODUCTION)
        order.due_time.FromSeconds(1_900_000_000 + i * 3600)
    return backend


async def _call(app: Any, body: bytes) -> bytes:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"facade.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {OPERATOR_TOKEN}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(chunks)


def _settle_heap() -> Callable[[], None] | None:
    """What the server does once started (``graphql_facade.__main__``), when this tree has it."""
    try:
        from graphql_facade.__main__ import _settle_heap as settle
    except ImportError:
        return None
    return lambda: settle(None)


async def measure(
    query: str, variables: dict[str, Any] | None, requests: int, *, server_gc: bool = True, **env: str
) -> float:
    """CPU seconds per request for ``query`` (after a warm-up), with the server's GC settings when asked."""
    backend = floor(100)
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    settings = facade_settings(MES_FACADE_CACHE="0", **env)
    async with running_app(backend, settings) as client:
        app = client.app
        answer = json.loads(await _call(app, body))
        assert "errors" not in answer, answer
        for _ in range(20):
            await _call(app, body)
        settle = _settle_heap() if server_gc else None
        threshold = gc.get_threshold()
        if settle is not None:
            settle()
        try:
            started = time.process_time()
            for _ in range(requests):
                await _call(app, body)
            return (time.process_time() - started) / requests
        finally:
            gc.unfreeze()
            gc.set_threshold(*threshold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--modes", default="compiled,generic")
    parser.add_argument("--no-server-gc", action="store_true", help="leave the collector as Python sets it")
    args = parser.parse_args()
    documents = {"board": (BOARD, None), "dashboard": (DASHBOARD_FILE.read_text(), {"first": 100})}
    modes = {"compiled": {}, "generic": {"MES_FACADE_COMPILED": "0"}}
    best: dict[str, float] = {}
    for _ in range(args.runs):
        for name, (query, variables) in documents.items():
            for mode in args.modes.split(","):
                env = modes[mode]
                cpu = asyncio.run(measure(query, variables, args.requests, server_gc=not args.no_server_gc, **env))
                key = f"{name}/{mode}"
                best[key] = min(best.get(key, cpu), cpu)
    for key, cpu in sorted(best.items()):
        print(f"{key:24s} {cpu * 1000:7.3f} ms CPU per request (min of {args.runs} runs x {args.requests})")


if __name__ == "__main__":
    main()
