"""Shared pieces of the orders integration tests: callers' metadata, requests, error details."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from mes.orders.v1 import orders_pb2
from services.orders.adapters.tables import infra, orders
from services.orders.bootstrap import App
from tests._infra.auth import AS_OPERATOR, AS_SERVICE, DEADLINE_S

STAFF, SERVICE, T = AS_OPERATOR, AS_SERVICE, DEADLINE_S

#: For tests of request handling that no database changes: run them on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

STYLES = ("RNG-SOL-001", "PND-HRT-002")
ALLOYS = ("AU750Y", "AG925")


def for_partner(partner_id: str) -> tuple[tuple[str, str], ...]:
    """A service (the facade) acting for a partner."""
    return (*SERVICE, ("x-mes-partner", partner_id))


def with_key(api_key: str) -> tuple[tuple[str, str], ...]:
    return (("x-api-key", api_key),)


def line(style: str = STYLES[0], alloy: str = ALLOYS[0], quantity: int = 1, **extra: Any) -> orders_pb2.OrderLine:
    return orders_pb2.OrderLine(style_code=style, alloy_code=alloy, quantity=quantity, **extra)


def submit_request(
    request_id: str | None = None,
    *,
    parent: str = "",
    reference: str = "PO-1",
    lines: Sequence[orders_pb2.OrderLine] | None = None,
    due_in: timedelta = timedelta(days=14),
    priority: int = 0,
) -> orders_pb2.SubmitOrderRequest:
    request = orders_pb2.SubmitOrderRequest(
        parent=parent,
        partner_reference=reference,
        request_id=uuid.uuid4().hex if request_id is None else request_id,
        priority=priority,  # type: ignore[arg-type]
        lines=list(lines) if lines is not None else [line()],
    )
    request.due_time.FromDatetime(datetime.now(UTC) + due_in)
    return request


async def count_rows(app: App, table: Any, *where: Any) -> int:
    async with app.db.write() as session:
        return int(await session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def order_count(app: App) -> int:
    return await count_rows(app, orders)


async def outbox_subjects(app: App) -> list[str]:
    async with app.db.write() as session:
        rows = await session.execute(select(infra.outbox.c.subject).order_by(infra.outbox.c.seq))
        return [row.subject for row in rows]
