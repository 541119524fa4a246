"""The operators' board on a busy floor: the real services in process on a real nats-server, orders
submitted at 5 per second and operations finished at 10 per second for a few seconds while readers
and a probe (every 100 ms) read the board through the facade with its shipped cache settings.

Asserted: at least 99 % of the answers come from the response cache (fresh or stale within the
bound), and the probe sees every new order while the board is being served from the cache (the
events refresh it; the cache's TTL alone never would within the window). Ratios and liveness only:
throughput, latency and how soon an order shows (the 2 s bound) are measured by ``perf/``
(``perf/_busy_bench.py``), where a noisy machine cannot fail a build.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from graphql_facade.config import FacadeSettings
from graphql_facade.metrics import CACHE_LOOKUPS
from mes.production.v1 import production_pb2 as prod
from tests.integration.graphql_facade.conftest import Facades, facade_app
from tests.integration.saga.saga_stack import SERVICES, SagaStack, eventually, start_stack

BOARD = """query Board { orders(first: 100) { nodes {
  id partnerId partnerReference status priority dueTime
  lines { styleCode alloyCode size quantity }
  workOrders { id status } } } }"""
OPERATOR = {"Authorization": "Bearer floor-op"}
ORDERS_PER_S = 5
OPERATIONS_PER_S = 10
WINDOW_S = 6.0
READERS = 4
RESULTS = ("hit", "stale", "wait", "miss", "bypass")


@pytest.fixture
async def floor(make_nats_server: Callable[..., Any], tmp_path: Path) -> AsyncIterator[tuple[SagaStack, str]]:
    nats_url = str(make_nats_server().url)
    urls = {svc: f"sqlite+aiosqlite:///{tmp_path / (svc + '.db')}" for svc in SERVICES}
    stack = await start_stack(urls, nats_url, str(tmp_path))
    try:
        await stack.seed(metal_mg=50_000_000)
        yield stack, nats_url
    finally:
        await stack.aclose()


def facade_settings(stack: SagaStack, nats_url: str) -> FacadeSettings:
    """The shipped cache settings (no MES_FACADE_CACHE_* override), on the stack's services."""
    return FacadeSettings.from_env(
        {
            "MES_ORDERS_ADDR": f"127.0.0.1:{stack.orders_apps[0].port}",
            "MES_INVENTORY_ADDR": f"127.0.0.1:{stack.inventory_apps[0].port}",
            "MES_PRODUCTION_ADDR": f"127.0.0.1:{stack.production_apps[0].port}",
            "MES_FACADE_SERVICE_TOKEN": "svc-token",
            "MES_FACADE_OPERATOR_TOKENS": "floor-op=SUP-1",
            "MES_FACADE_LIMITS_OPERATOR_REQUESTS_PER_MINUTE": "10000000",
            "NATS_URL": nats_url,
            "MES_INSTANCE": "busy-floor",
            "MES_LOG_LEVEL": "WARNING",
            "MES_FACADE_METRICS_PORT": "0",  # no /metrics listener on its fixed default port
        }
    )


def lookups() -> dict[str, float]:
    return {result: CACHE_LOOKUPS.labels("response", result)._value.get() for result in RESULTS}


async def board_ids(facade: Facades) -> list[str]:
    body = (await facade.gql(BOARD, headers=OPERATOR)).json()
    assert "errors" not in body, body
    return [node["id"] for node in body["data"]["orders"]["nodes"]]


async def queued_operations(stack: SagaStack) -> list[prod.Operation]:
    request = prod.ListOperationsRequest(statuses=[prod.OPERATION_STATUS_QUEUED], page_size=100)
    reply = await stack.production.ListOperations(request, metadata=(("authorization", "Bearer svc-token"),))
    return list(reply.operations)


async def finish_operations(stack: SagaStack, stop: asyncio.Event, done: list[int]) -> None:
    """Start and finish queued operations, 10 per second (each finish queues the next step)."""
    interval = 1.0 / OPERATIONS_PER_S
    claimed: set[str] = set()
    tasks: list[asyncio.Task[None]] = []
    pending: list[prod.Operation] = []

    async def work(op: prod.Operation) -> None:
        try:
            started = await stack.start_op(op, 5_000)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:  # the work center is at capacity
                raise
            claimed.discard(op.name)  # as on the floor: it waits in the queue for a free place
            return
        await stack.finish_op(started, 5_000)  # no loss: never waits for a review
        done.append(1)

    next_at = time.monotonic()
    while not stop.is_set():
        if not pending:
            pending = [op for op in await queued_operations(stack) if op.name not in claimed]
            if not pending:
                await asyncio.sleep(interval)
                continue
        op = pending.pop()
        claimed.add(op.name)
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        tasks.append(asyncio.create_task(work(op)))
    await asyncio.gather(*tasks)  # any other failure fails the test (see the caller)


async def submit_orders(stack: SagaStack, count: int, acked: dict[str, float]) -> None:
    """``count`` orders at 5 per second; the time each was acknowledged."""
    interval = 1.0 / ORDERS_PER_S
    next_at = time.monotonic()
    for _ in range(count):
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        order_id = await stack.submit()
        acked[order_id] = time.monotonic()


async def read(facade: Facades, stop: asyncio.Event, answers: list[int]) -> None:
    while not stop.is_set():
        await board_ids(facade)
        answers.append(1)
        await asyncio.sleep(0.002)


async def probe(facade: Facades, stop: asyncio.Event, seen: dict[str, float]) -> None:
    """Polls the board every 100 ms, noting when each order first shows."""
    while not stop.is_set():
        now = time.monotonic()
        for order_id in await board_ids(facade):
            seen.setdefault(order_id, now)
        await asyncio.sleep(0.1)


async def test_the_board_stays_cached_and_fresh_while_orders_and_operations_flow(
    floor: tuple[SagaStack, str],
) -> None:
    stack, nats_url = floor
    for _ in range(30):  # work on the floor before the window: operations to finish
        await stack.submit()
    await eventually(lambda: queued_operations(stack), what="queued operations", timeout=30)
    async with facade_app(facade_settings(stack, nats_url), events=True) as facade:
        source = facade.facade.events
        assert source is not None
        await source.wait_subscribed(15)  # type: ignore[attr-defined]
        await board_ids(facade)  # the first computation, before the window
        before = lookups()
        stop = asyncio.Event()
        acked: dict[str, float] = {}
        seen: dict[str, float] = {}
        answers: list[int] = []
        finished: list[int] = []
        background = [
            asyncio.create_task(probe(facade, stop, seen)),
            asyncio.create_task(finish_operations(stack, stop, finished)),
            *(asyncio.create_task(read(facade, stop, answers)) for _ in range(READERS)),
        ]
        try:
            await submit_orders(stack, int(WINDOW_S * ORDERS_PER_S), acked)
            await eventually(
                lambda: _all_seen(acked, seen), what="every new order on the board", timeout=30, interval=0.1
            )
        finally:
            stop.set()
            results = await asyncio.gather(*background, return_exceptions=True)
        after = lookups()
    failures = [result for result in results if isinstance(result, BaseException)]
    assert not failures, failures
    counts = {result: after[result] - before[result] for result in RESULTS}
    served = counts["hit"] + counts["stale"]
    total = sum(counts.values())
    assert total >= len(answers) > 100 and finished, (counts, len(answers), len(finished))
    assert served / total >= 0.99, counts


async def _all_seen(acked: dict[str, float], seen: dict[str, float]) -> bool:
    return all(order_id in seen for order_id in acked)
