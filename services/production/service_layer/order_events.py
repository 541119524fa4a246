"""Handlers that the event consumers call (the order saga, production's part).

Each runs in one transaction with its outbox rows and is idempotent, so a consumer can
record the event in its inbox in the same transaction or simply call again on redelivery.
``cause`` is the id of the event being handled; it becomes the causation id of the events
written here. ``bound(uows)`` gives the same handlers on other units of work, e.g. ones
borrowed from an event consumer's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from mes_kernel.errors import InvalidArgument, NotFound
from mes_kernel.validation import Violations
from services.production.domain.bom import LineSpec, MaterialRequirement, explode, validate_lines, validate_reference
from services.production.domain.events import RequirementsComputed, RequirementsFailed
from services.production.domain.order_specs import OrderSpec, OrderSpecStatus
from services.production.domain.work_orders import WorkOrder
from services.production.service_layer.common import Context
from services.production.service_layer.ports import UnitOfWork, UnitOfWorkFactory
from services.production.service_layer.release import cancel_order, create_and_release
from services.production.service_layer.work_orders import PRIORITY_NORMAL

__all__ = ["LineSpecLike", "OrderEventHandlers"]


class LineSpecLike(Protocol):
    """An order line: ``mes.production.v1.LineSpec``, the orders service's line, or a LineSpec."""

    @property
    def line_number(self) -> int: ...
    @property
    def style_code(self) -> str: ...
    @property
    def alloy_code(self) -> str: ...
    @property
    def size(self) -> str: ...
    @property
    def engraving(self) -> str: ...
    @property
    def quantity(self) -> int: ...


def _line(line: LineSpecLike) -> LineSpec:
    return LineSpec(line.line_number, line.style_code, line.alloy_code, line.size, line.engraving, line.quantity)


class OrderEventHandlers:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def bound(self, uows: UnitOfWorkFactory) -> OrderEventHandlers:
        """These handlers on ``uows`` (e.g. inside an event consumer's transaction)."""
        return OrderEventHandlers(replace(self._ctx, uow=uows))

    async def on_order_submitted(
        self,
        order_id: str,
        priority: int,
        lines: Sequence[LineSpecLike],
        submit_time: datetime | None,
        cause: str = "",
    ) -> list[MaterialRequirement] | None:
        """``orders.order.submitted``: keep the line specs and explode them.

        Writes ``production.requirements.computed`` (returns the requirements), or
        ``production.requirements.failed`` with reason UNKNOWN_STYLE / INVALID_ARGUMENT
        (returns None). A duplicate, or an order already cancelled, changes nothing (None).
        """
        v = Violations()
        validate_reference(v, order_id, "order_id")
        v.raise_if_any("order_id is invalid")
        specs = tuple(_line(line) for line in lines)
        priority = priority if priority in range(1, 5) else PRIORITY_NORMAL
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> list[MaterialRequirement] | None:
            if await uow.order_specs.get(order_id, for_update=True) is not None:
                return None
            spec = OrderSpec(order_id, priority, specs, submit_time or now, OrderSpecStatus.PENDING, now, now)
            try:
                check = Violations()
                validate_lines(check, specs)
                check.raise_if_any()
                requirements = explode(specs, await uow.styles.get_many({s.style_code for s in specs}))
            except InvalidArgument as err:
                spec.mark(OrderSpecStatus.FAILED, now)
                await uow.order_specs.add(spec)
                await uow.emit(RequirementsFailed(order_id, err.reason), causation_id=cause)
                return None
            await uow.order_specs.add(spec)
            event = RequirementsComputed(order_id, priority, tuple(requirements), spec.submit_time)
            await uow.emit(event, causation_id=cause)
            return requirements

        return await self._ctx.uow.write(tx)

    async def on_reservation_held(self, order_id: str, cause: str = "") -> list[WorkOrder]:
        """``inventory.reservation.held``: create and release the order's work orders from the
        stored specs (``production.work_orders.released``). Returns the work orders; a duplicate
        returns the existing ones; an order cancelled meanwhile gets none. An order never
        submitted here fails NOT_FOUND."""
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            existing = await uow.work_orders.for_order(order_id)
            if existing:
                return existing
            spec = await uow.order_specs.get(order_id)
            if spec is None or spec.status is OrderSpecStatus.FAILED:
                raise NotFound(f"no line specs for order {order_id}", metadata={"order_id": order_id})
            if spec.status is OrderSpecStatus.CANCELLED:
                return []
            return await create_and_release(
                self._ctx,
                uow,
                order_id=order_id,
                priority=spec.priority,
                lines=spec.lines,
                now=now,
                causation_id=cause,
            )

        return await self._ctx.uow.write(tx)

    async def on_order_cancelled(self, order_id: str, reason: str = "", cause: str = "") -> list[WorkOrder]:
        """``orders.order.cancelled``: CancelWorkOrders semantics (``production.work_orders.cancelled``
        with the metal to return), and pending specs are dropped. Idempotent."""
        now = self._ctx.clock()

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            return await cancel_order(uow, order_id=order_id, now=now, causation_id=cause)

        return await self._ctx.uow.write(tx)
