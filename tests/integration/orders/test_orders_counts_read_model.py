"""CountOrders reads the closed orders from ``order_terminal_counts``, a read model kept by
triggers in the transaction that closes an order: after every change it says what counting
the orders themselves says (SQLite and PostgreSQL), the migration fills it from the orders
already stored, and its downgrade removes it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import delete, func, select, text

from mes.orders.v1 import orders_pb2
from mes_platform.db import Database
from mes_platform.migrations import alembic_config, upgrade
from services.orders.adapters.order_repository import SqlOrderRepository
from services.orders.adapters.partner_repository import SqlPartnerRepository
from services.orders.adapters.tables import order_lines, order_status_changes, order_terminal_counts, orders
from services.orders.bootstrap import SPEC, App
from services.orders.domain.order import Order, OrderLine, Priority
from services.orders.domain.partner import Partner, PartnerTier
from services.orders.domain.status import TERMINAL, OrderStatus
from tests.integration.orders._support import SERVICE, STAFF, T, submit_request

S = OrderStatus
FINAL = sorted(s.value for s in TERMINAL)


async def _close(app: App, order_id: str, *path: OrderStatus) -> None:
    """Walk an order along ``path`` (as the saga and the operators would)."""
    async with app.handles.uows.write() as uow:
        order = await uow.orders.get(order_id, partner_id=None, for_update=True)
        assert order is not None
        version = order.version
        for status in path:
            order.transition(status, now=datetime.now(UTC))
        await uow.orders.save(order, expected_version=version)


async def _truth(db: Database) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """(closed orders counted from ``orders``, the read model's rows)."""
    async with db.write() as session:
        counted = await session.execute(
            select(orders.c.partner_id, orders.c.status, func.count())
            .where(orders.c.status.in_(FINAL))
            .group_by(orders.c.partner_id, orders.c.status)
        )
        kept = await session.execute(select(order_terminal_counts))
        return (
            Counter({(p, s): int(n) for p, s, n in counted}),
            Counter({(p, s): int(n) for p, s, n in kept if n}),
        )


async def _counts(stub: Any, parent: str = "") -> tuple[dict[int, int], int]:
    reply = await stub.CountOrders(orders_pb2.CountOrdersRequest(parent=parent), metadata=STAFF, timeout=T)
    return {c.status: c.count for c in reply.counts if c.count}, reply.late_count


async def test_counts_follow_every_close_reopen_and_delete(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    submitted = []
    for partner in ("acme", "acme", "acme", "acme", "globex", "globex"):
        reply = await stub.SubmitOrder(submit_request(parent=f"partners/{partner}"), metadata=SERVICE, timeout=T)
        submitted.append(reply.order.order_id)
    a1, a2, a3, a4, g1, _g2 = submitted
    await _close(app, a1, S.ACCEPTED, S.IN_PRODUCTION, S.READY_TO_SHIP, S.SHIPPED)
    await _close(app, a2, S.CANCELLED)
    await _close(app, a3, S.REJECTED)
    await _close(app, g1, S.CANCELLED)
    await _close(app, a4, S.ON_HOLD, S.ACCEPTED)  # open to open: the read model is not touched
    counted, kept = await _truth(app.db)
    assert (
        kept
        == counted
        == Counter(
            {("acme", "SHIPPED"): 1, ("acme", "CANCELLED"): 1, ("acme", "REJECTED"): 1, ("globex", "CANCELLED"): 1}
        )
    )

    everyone, late = await _counts(stub)
    assert everyone == {
        orders_pb2.ORDER_STATUS_SUBMITTED: 1,
        orders_pb2.ORDER_STATUS_ACCEPTED: 1,
        orders_pb2.ORDER_STATUS_SHIPPED: 1,
        orders_pb2.ORDER_STATUS_CANCELLED: 2,
        orders_pb2.ORDER_STATUS_REJECTED: 1,
    }
    assert late == 0
    acme, _ = await _counts(stub, "partners/acme")
    assert acme[orders_pb2.ORDER_STATUS_CANCELLED] == 1 and orders_pb2.ORDER_STATUS_SUBMITTED not in acme

    async with app.db.write() as session:  # an order removed (and one moved back, as a repair would)
        for table in (order_lines, order_status_changes, orders):
            await session.execute(delete(table).where(table.c.order_id == a2))
        await session.execute(orders.update().where(orders.c.order_id == g1).values(status="SUBMITTED"))
    counted, kept = await _truth(app.db)
    assert kept == counted and ("acme", "CANCELLED") not in kept and ("globex", "CANCELLED") not in kept
    everyone, _ = await _counts(stub)
    assert orders_pb2.ORDER_STATUS_CANCELLED not in everyone
    assert everyone[orders_pb2.ORDER_STATUS_SUBMITTED] == 2  # g1 (moved back) and g2


async def test_late_orders_are_the_open_ones_past_due(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    overdue = [
        (await stub.SubmitOrder(submit_request(parent="partners/acme"), metadata=SERVICE, timeout=T)).order.order_id
        for _ in range(3)
    ]
    await stub.SubmitOrder(submit_request(parent="partners/acme"), metadata=SERVICE, timeout=T)
    async with app.db.write() as session:
        past = datetime.now(UTC) - timedelta(hours=1)
        await session.execute(orders.update().where(orders.c.order_id.in_(overdue)).values(due_time=past))
    await _close(app, overdue[0], S.CANCELLED)  # closed: no longer late
    assert (await _counts(stub))[1] == 2
    assert (await _counts(stub, "partners/acme"))[1] == 2
    assert (await _counts(stub, "partners/globex"))[1] == 0


def _order(order_id: str, partner_id: str, status: OrderStatus) -> Order:
    now = datetime.now(UTC)
    order = Order.submit(
        order_id=order_id,
        partner_id=partner_id,
        partner_reference=order_id,
        priority=Priority.NORMAL,
        due_time=now,
        lines=[OrderLine(1, "RNG-1", "AU750Y", 1)],
        cause="test",
        now=now,
    )
    order.status = status
    return order


async def test_the_migration_counts_the_orders_already_stored_and_downgrades(db_url: str) -> None:
    await upgrade(SPEC.migrations, db_url, SPEC.name, "0001")
    db = Database(db_url, schema=SPEC.name)
    try:
        async with db.write() as session:
            for partner in ("acme", "globex"):
                made, _key = Partner.create(partner, partner.title(), PartnerTier.STANDARD, datetime.now(UTC))
                await SqlPartnerRepository(session).add(made)
        stored = [("o-1", "acme", S.SHIPPED), ("o-2", "acme", S.SHIPPED), ("o-3", "globex", S.CANCELLED)]
        stored += [("o-4", "acme", S.IN_PRODUCTION)]
        async with db.write() as session:
            for order_id, partner, status in stored:
                await SqlOrderRepository(session).add(_order(order_id, partner, status))
        await upgrade(SPEC.migrations, db_url, SPEC.name)
        counted, kept = await _truth(db)
        assert kept == counted == Counter({("acme", "SHIPPED"): 2, ("globex", "CANCELLED"): 1})

        config = alembic_config(SPEC.migrations, db_url, SPEC.name)
        await asyncio.to_thread(command.downgrade, config, "0001")
        async with db.write() as session:
            await session.execute(orders.update().where(orders.c.order_id == "o-4").values(status="CANCELLED"))
            stored_orders = await session.scalar(text("SELECT count(*) FROM orders"))
        assert stored_orders == 4  # the orders survive; no trigger is left to write to a missing table
        await upgrade(SPEC.migrations, db_url, SPEC.name)
        counted, kept = await _truth(db)
        assert kept == counted and kept[("acme", "CANCELLED")] == 1
    finally:
        await db.dispose()
