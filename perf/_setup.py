"""Data set-up through the public APIs (the ``clients`` library): stock, orders, waiting for the saga."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import nats

from clients import ClientConfig, InvalidArgumentError, MesClients, OrdersClient
from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2
from perf._stack import BenchStack

__all__ = [
    "BENCH_ALLOY",
    "BENCH_STYLE",
    "DUE",
    "count_by_status",
    "partner_client",
    "pause_saga",
    "receive_metal",
    "saga_consumers",
    "seed_orders",
    "staff_clients",
    "submit_payload",
    "wait_for_catalogue",
    "wait_until_settled",
]

#: The order every benchmark submits: one stone-free pendant in 14K yellow gold (2.2 g of metal).
BENCH_STYLE, BENCH_ALLOY = "PND-HRT-001", "AU585Y"
DUE = datetime(2031, 1, 1, tzinfo=UTC)
#: Lines of the seeded dashboard orders (style, alloy): demo stock covers about a hundred of them.
_SEED_LINES = (
    ("RNG-SOL-001", "AU750Y"),
    ("PND-HRT-001", "AU585Y"),
    ("RNG-BND-003", "AU585W"),
    ("EAR-HOP-002", "AG925"),
    ("CHN-CUR-045", "AU585R"),
)
_WAITING = (orders_pb2.ORDER_STATUS_SUBMITTED, orders_pb2.ORDER_STATUS_ACCEPTED)
_PAUSE_UNTIL = "2099-01-01T00:00:00Z"


def submit_payload(reference: str = "BENCH") -> dict[str, object]:
    """The SubmitOrderRequest of the benchmarks, as proto JSON (the GraphQL input says the same)."""
    return {
        "partnerReference": reference,
        "priority": "PRIORITY_NORMAL",
        "dueTime": DUE.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lines": [{"lineNumber": 1, "styleCode": BENCH_STYLE, "alloyCode": BENCH_ALLOY, "quantity": 1}],
    }


def staff_clients(stack: BenchStack) -> MesClients:
    return MesClients(
        ClientConfig(
            orders_addr=stack.address("orders"),
            inventory_addr=stack.address("inventory"),
            production_addr=stack.address("production"),
            token=stack.token,
            deadline_s=30.0,
        )
    )


def partner_client(stack: BenchStack, partner: str) -> OrdersClient:
    config = ClientConfig(orders_addr=stack.address("orders"), token=None, api_key=stack.partner_keys[partner])
    return OrdersClient(config.with_changes(deadline_s=30.0))


async def receive_metal(stack: BenchStack, alloy: str, lots: int, weight_mg: int = 100_000_000) -> None:
    async with staff_clients(stack) as mes:
        for i in range(lots):
            await mes.inventory.receive_lot(
                kind=common_pb2.MATERIAL_KIND_METAL,
                material_code=alloy,
                weight_mg=weight_mg,
                supplier_reference=f"bench-{i}",
                request_id=f"bench-lot-{alloy}-{i}",
            )


async def wait_for_catalogue(stack: BenchStack, partner: str, timeout_s: float = 60.0) -> None:
    """Until the orders service's catalogue copy knows the bench style (catalogue events applied)."""
    client = partner_client(stack, partner)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                await client.submit_order(
                    parent="",
                    partner_reference="BENCH-PROBE",
                    priority=common_pb2.PRIORITY_NORMAL,
                    due_time=DUE,
                    lines=[
                        orders_pb2.OrderLine(line_number=1, style_code=BENCH_STYLE, alloy_code=BENCH_ALLOY, quantity=1)
                    ],
                    request_id="bench-probe-" + uuid.uuid4().hex[:8],
                )
                return
            except InvalidArgumentError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await client.aclose()


async def seed_orders(stack: BenchStack, partners: Sequence[str], count: int) -> dict[str, list[str]]:
    """``count`` orders spread over ``partners`` (one or two lines each); returns their ids per partner."""
    ids: dict[str, list[str]] = {p: [] for p in partners}
    clients = {p: partner_client(stack, p) for p in partners}
    try:
        for start in range(0, count, 10):
            batch = []
            for i in range(start, min(count, start + 10)):
                partner = partners[i % len(partners)]
                first = _SEED_LINES[i % len(_SEED_LINES)]
                lines = [orders_pb2.OrderLine(line_number=1, style_code=first[0], alloy_code=first[1], quantity=1)]
                if i % 3 == 0:
                    second = _SEED_LINES[(i + 1) % len(_SEED_LINES)]
                    lines.append(
                        orders_pb2.OrderLine(line_number=2, style_code=second[0], alloy_code=second[1], quantity=2)
                    )
                call = clients[partner].submit_order(
                    partner_reference=f"SEED-{i:04d}",
                    priority=common_pb2.PRIORITY_HIGH if i % 4 == 0 else common_pb2.PRIORITY_NORMAL,
                    due_time=DUE,
                    lines=lines,
                    request_id=f"seed-{i}",
                )
                batch.append((partner, call))
            for partner, response in zip(
                [p for p, _ in batch], await asyncio.gather(*(c for _, c in batch)), strict=True
            ):
                ids[partner].append(response.order.order_id)
    finally:
        for client in clients.values():
            await client.aclose()
    return ids


async def count_by_status(stack: BenchStack) -> dict[str, int]:
    async with staff_clients(stack) as mes:
        response = await mes.orders.count_orders()
    return {orders_pb2.OrderStatus.Name(c.status).removeprefix("ORDER_STATUS_"): int(c.count) for c in response.counts}


async def wait_until_settled(stack: BenchStack, timeout_s: float) -> tuple[bool, dict[str, int]]:
    """Until no order is SUBMITTED or ACCEPTED (the saga has moved every order on), or the timeout."""
    deadline = time.monotonic() + timeout_s
    waiting = {orders_pb2.OrderStatus.Name(s).removeprefix("ORDER_STATUS_") for s in _WAITING}
    while True:
        counts = await count_by_status(stack)
        if sum(counts.get(s, 0) for s in waiting) == 0:
            return True, counts
        if time.monotonic() > deadline:
            return False, counts
        await asyncio.sleep(0.5)


async def saga_consumers(stack: BenchStack) -> list[str]:
    """The durable consumers through which the saga starts: inventory's and production's on ORDERS."""
    nc = await nats.connect(stack.nats_url, connect_timeout=5)
    try:
        infos = await nc.jetstream().consumers_info("ORDERS")
    finally:
        await nc.close()
    return sorted(c.name for c in infos if c.name.startswith(("inventory-", "production-")))


async def pause_saga(stack: BenchStack, names: Sequence[str], paused: bool) -> None:
    """Pause (``$JS.API.CONSUMER.PAUSE``) or resume those consumers; nothing is lost, delivery waits."""
    nc = await nats.connect(stack.nats_url, connect_timeout=5)
    try:
        js = nc.jetstream()
        for name in names:
            if paused:
                await js.pause_consumer("ORDERS", name, _PAUSE_UNTIL)
            else:
                await js.resume_consumer("ORDERS", name)
    finally:
        await nc.close()
