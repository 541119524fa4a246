"""The client-side ledger: what callers were told, written from acknowledged replies only.

``submit_all`` sends the planned orders concurrently through the ``clients`` library. A
call that fails is sent again with the *same* request_id until it is acknowledged (the
library itself already retries UNAVAILABLE within one call's deadline); the ledger keeps
request_id -> order_id for every OK reply, how many RPCs each request took and the
failures by status code. Only an OK reply counts as acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc

from clients import MesClientError, OrdersClient
from tests.e2e.faults._workload import PlannedOrder

#: Failures after which the caller sends the same request again (its outcome is unknown).
RETRY_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED, grpc.StatusCode.UNKNOWN}
)


@dataclass
class Ledger:
    #: request_id -> order_id of every acknowledged SubmitOrder.
    acknowledged: dict[str, str] = field(default_factory=dict)
    #: request_id -> order ids seen in OK replies (more than one would be a broken idempotency key).
    replies: dict[str, set[str]] = field(default_factory=dict)
    #: request ids sent at least once.
    attempted: set[str] = field(default_factory=set)
    #: SubmitOrder calls made through the client (each may hide library retries).
    calls: int = 0
    replayed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    #: Request ids given up on (never acknowledged): their outcome is unknown.
    abandoned: set[str] = field(default_factory=set)
    #: Request ids answered with a non-retryable error (the order was refused).
    rejected: set[str] = field(default_factory=set)
    #: Wall-clock seconds of the submission phase and its latencies of acknowledged calls.
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)

    def record_ok(self, request_id: str, order_id: str, replayed: bool, latency_s: float) -> None:
        self.acknowledged.setdefault(request_id, order_id)
        self.replies.setdefault(request_id, set()).add(order_id)
        self.replayed += int(replayed)
        self.latencies_s.append(latency_s)

    def record_error(self, code: str) -> None:
        self.errors[code] += 1

    @property
    def attempts(self) -> int:
        return len(self.attempted)

    def errors_text(self) -> str:
        return ",".join(f"{code}:{n}" for code, n in sorted(self.errors.items())) or "none"


async def submit_one(
    orders: OrdersClient,
    order: PlannedOrder,
    ledger: Ledger,
    *,
    give_up_at: float,
    call_timeout_s: float = 10.0,
) -> None:
    ledger.attempted.add(order.request_id)
    request = order.request()
    pause = 0.1
    while True:
        ledger.calls += 1
        started = time.monotonic()
        try:
            response = await orders.submit_order(request, timeout=call_timeout_s)
        except MesClientError as exc:
            ledger.record_error(exc.code.name)
            if exc.code not in RETRY_CODES:
                ledger.rejected.add(order.request_id)
                return
            if time.monotonic() + pause >= give_up_at:
                ledger.abandoned.add(order.request_id)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
            continue
        ledger.record_ok(order.request_id, response.order.order_id, response.replayed, time.monotonic() - started)
        return


async def submit_all(
    orders: OrdersClient,
    planned: Sequence[PlannedOrder],
    ledger: Ledger,
    *,
    concurrency: int = 16,
    budget_s: float = 180.0,
) -> Ledger:
    """Submit every planned order with ``concurrency`` callers; retry each until acknowledged
    (fault scripts run beside it and watch ``len(ledger.acknowledged)``)."""
    queue: asyncio.Queue[PlannedOrder] = asyncio.Queue()
    for order in planned:
        queue.put_nowait(order)
    give_up_at = time.monotonic() + budget_s
    started = time.monotonic()

    async def caller() -> None:
        while True:
            try:
                order = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await submit_one(orders, order, ledger, give_up_at=give_up_at)

    await asyncio.gather(*(caller() for _ in range(max(1, concurrency))))
    ledger.elapsed_s += time.monotonic() - started
    return ledger
