"""Handlers that the event consumers call (the order saga, production's part).

Each runs in one unit of work with its outbox rows and is idempotent, so a consumer can
record the event in its inbox in the same transaction or simply call again on redelivery.
A consumer calls them through :meth:`OrderEventHandlers.bound` on units of work borrowed
from its transaction, with the handled event's id as the cause of the events written here.
"""

from __future__ import annotations

from dataclasses import replace

from mes_kernel.errors import InvalidArgument, NotFound
from mes_kernel.validation import Violations
from services.production.domain.bom import MaterialRequirement, explode, validate_lines, validate_reference
from services.production.domain.events import RequirementsComputed, RequirementsFailed
from services.production.domain.order_specs import OrderSpec, OrderSpecStatus
from services.production.domain.work_orders import WorkOrder
from services.production.service_layer.commands import OrderCancelled, OrderSubmitted, ReservationHeld
from services.production.service_layer.common import WorkOrderIssuers
from services.production.service_layer.ports import UnitOfWork, Uows
from services.production.service_layer.release import cancel_order, create_and_release
from services.production.service_layer.work_orders import PRIORITY_NORMAL

__all__ = ["OrderEventHandlers"]


class OrderEventHandlers(WorkOrderIssuers):
    """Event handlers act as the production service itself: they check no caller."""

    def bound(self, uows: Uows) -> OrderEventHandlers:
        """These handlers on ``uows`` (e.g. borrowed from an event consumer's transaction)."""
        return OrderEventHandlers(replace(self._deps, uows=uows), attempts=self._attempts, new_id=self._new_id)

    async def on_order_submitted(self, event: OrderSubmitted) -> list[MaterialRequirement] | None:
        """``orders.order.submitted``: keep the line specs and explode them.

        Writes ``production.requirements.computed`` (returns the requirements), or
        ``production.requirements.failed`` with reason UNKNOWN_STYLE / INVALID_ARGUMENT
        (returns None). A duplicate, or an order already cancelled, changes nothing (None).
        """
        order_id, specs = event.order_id, event.lines
        v = Violations()
        validate_reference(v, order_id, "order_id")
        v.raise_if_any("order_id is invalid")
        priority = event.priority if event.priority in range(1, 5) else PRIORITY_NORMAL
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> list[MaterialRequirement] | None:
            if await uow.order_specs.get(order_id, for_update=True) is not None:
                return None
            spec = OrderSpec(order_id, priority, specs, event.submit_time or now, OrderSpecStatus.PENDING, now, now)
            try:
                check = Violations()
                validate_lines(check, specs)
                check.raise_if_any()
                requirements = explode(specs, await uow.styles.get_many({s.style_code for s in specs}))
            except InvalidArgument as err:
                spec.mark(OrderSpecStatus.FAILED, now)
                await uow.order_specs.add(spec)
                await uow.emit(RequirementsFailed(order_id, err.reason))
                return None
            await uow.order_specs.add(spec)
            await uow.emit(RequirementsComputed(order_id, priority, tuple(requirements), spec.submit_time))
            return requirements

        return await self._write(tx)

    async def on_reservation_held(self, event: ReservationHeld) -> list[WorkOrder]:
        """``inventory.reservation.held``: create and release the order's work orders from the
        stored specs (``production.work_orders.released``). Returns the work orders; a duplicate
        returns the existing ones; an order cancelled meanwhile gets none. An order never
        submitted here fails NOT_FOUND."""
        order_id = event.order_id
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            spec = await uow.order_specs.get(order_id, for_update=True)
            if spec is not None and spec.status is OrderSpecStatus.PENDING:  # the usual case: release
                return await create_and_release(
                    uow,
                    order_id=order_id,
                    priority=spec.priority,
                    lines=spec.lines,
                    now=now,
                    new_id=self._new_id,
                    pending=spec,
                )
            existing = await uow.work_orders.for_order(order_id)
            if existing:
                return existing
            if spec is None or spec.status is OrderSpecStatus.FAILED:
                raise NotFound(f"no line specs for order {order_id}", metadata={"order_id": order_id})
            return []  # cancelled before its reservation

        return await self._write(tx)

    async def on_order_cancelled(self, event: OrderCancelled) -> list[WorkOrder]:
        """``orders.order.cancelled``: CancelWorkOrders semantics (``production.work_orders.cancelled``
        with the metal to return), and pending specs are dropped. Idempotent."""
        now = self._deps.clock()

        async def tx(uow: UnitOfWork) -> list[WorkOrder]:
            return await cancel_order(uow, order_id=event.order_id, now=now)

        return await self._write(tx)
