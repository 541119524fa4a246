"""Two replicas of every service on one PostgreSQL database share the durable consumers and
the outbox; every order is still processed once in effect."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from tests.integration.saga.saga_stack import RING_MG, SERVICES, eventually, start_stack

OS = ords.OrderStatus
ORDERS = 12


@pytest.mark.postgres
async def test_two_replicas_of_each_service_process_each_order_once(
    make_pg_database: Callable[..., str], nats_url: str, tmp_path: Path
) -> None:
    url = make_pg_database()
    # Small fetch batches, so that both replicas get a share of every consumer's messages.
    stack = await start_stack(
        {svc: url for svc in SERVICES}, nats_url, str(tmp_path), replicas=2, extra={"CONSUMER_BATCH": "2"}
    )
    try:
        await stack.seed(metal_mg=ORDERS * RING_MG)
        order_ids = await asyncio.gather(*(stack.submit() for _ in range(ORDERS)))

        async def all_in_production() -> bool:
            orders = await asyncio.gather(*(stack.order(order_id) for order_id in order_ids))
            return all(order.status == OS.ORDER_STATUS_IN_PRODUCTION for order in orders)

        await eventually(all_in_production, what=f"{ORDERS} orders IN_PRODUCTION", timeout=30)

        for order_id in order_ids:
            history = [OS.Name(c.to_status) for c in await stack.history(order_id)]
            assert history == ["ORDER_STATUS_SUBMITTED", "ORDER_STATUS_ACCEPTED", "ORDER_STATUS_IN_PRODUCTION"]
            [reservation] = await stack.reservations(order_id)
            assert reservation.state == inv.RESERVATION_STATE_COMMITTED
            assert len(await stack.work_orders(order_id)) == 1
            issued = [e.weight_mg for e in await stack.custody(order_id) if e.kind == inv.CUSTODY_KIND_ISSUE]
            assert sum(issued) == RING_MG
        lots = await stack.lots()
        assert sum(lot.on_hand_mg for lot in lots) == 0  # every order issued exactly its metal
        assert sum(lot.reserved_mg for lot in lots) == 0

        # Both replicas of every service applied events (they share the durable consumers).
        for apps in (stack.orders_apps, stack.inventory_apps, stack.production_apps):
            applied = [sum(c.outcomes.get("applied", 0) for c in stack.consumers(app)) for app in apps]
            assert all(n > 0 for n in applied), applied
            assert {tuple(c.durable for c in stack.consumers(app)) for app in apps} == {
                tuple(c.durable for c in stack.consumers(apps[0]))
            }
        published = [_relay_total(app) for app in stack.apps]
        assert sum(published) > 0
    finally:
        await stack.aclose()


def _relay_total(app: Any) -> int:
    relay = app.messaging.relay if app.messaging is not None else None
    return relay.published_total if relay is not None else 0
