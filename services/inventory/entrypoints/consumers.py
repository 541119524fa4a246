"""Event consumers of the inventory service: reservations, the custody ledger and retries.

Three durable pull consumers, shared by every replica (one per source stream, so that the
events of one producer are applied in the order it wrote them):

``inventory-production-events`` (stream PRODUCTION)
    ``production.requirements.computed``  -> reserve all lines or none; short: the order waits
                                             (``inventory.reservation.failed`` the first time)
    ``production.work_orders.released``   -> commit (ISSUE to the order)
    ``production.work_order.completed``   -> consume, when ``order_completed``
    ``production.operation.finished``, ``production.operation.reworked``
                                          -> custody LOSS, for a loss > 0 of an operation that
                                             became DONE, or REWORK after a loss review (the
                                             other outcomes of an operation carry no final loss:
                                             not subscribed; ``production.operation.changed``,
                                             written before the split by outcome, still is)
    ``production.work_orders.cancelled``  -> metal returned, then the reservation released
``inventory-order-events`` (stream ORDERS)
    ``orders.order.cancelled``            -> release a HELD reservation, stop waiting; a
                                             COMMITTED one waits for production's cancellation
``inventory-stock-events`` (stream INVENTORY, its own events)
    ``inventory.lot.received``, ``inventory.reservation.released`` -> wake the waiting-orders
                                             sweeper (:mod:`.waiting_sweeper`): a pass over every
                                             waiting order by priority, then submit time, one
                                             transaction per reservation after this one commits
                                             (each success: ``inventory.reservation.held``)

Stock grows only through those two: a lot received, or a reservation released (which also
returns issued metal to its lots); metal returned beyond what an order held becomes a new
lot (``lot.received``). So ``inventory.custody.recorded`` is not consumed (one event per
lot share of every issue would cost a transaction each for nothing).

Every handler runs inside the consumer's transaction (the inbox row is already in it) on
units of work borrowed from that session (savepoints for the use cases' own retries); the
events it writes carry the handled event's id as their cause.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from mes.orders.v1 import orders_events_pb2 as orders
from mes.production.v1 import production_events_pb2 as prod
from mes.production.v1 import production_pb2
from mes_contracts import events
from mes_platform.messaging.events import EventContext
from mes_platform.messaging.runtime import ConsumerSpec
from mes_platform.uow import SqlUnitOfWorkFactory
from services.inventory.adapters.unit_of_work import InventoryUnitOfWork
from services.inventory.entrypoints import codec
from services.inventory.service_layer.event_handlers import EventHandlers

__all__ = ["InventoryConsumers", "Wake", "consumer_specs", "is_recordable_loss"]

PRODUCTION_EVENTS = "production-events"
ORDER_EVENTS = "order-events"
STOCK_EVENTS = "stock-events"

#: Wakes the waiting-orders sweeper; the argument is the cause of the reservations it makes.
Wake = Callable[[str], None]
_OP = production_pb2.OperationStatus
#: (from, to) of the operation changes whose loss is final: within tolerance, approved, reworked.
_LOSS_TRANSITIONS = {
    (_OP.OPERATION_STATUS_IN_PROGRESS, _OP.OPERATION_STATUS_DONE),
    (_OP.OPERATION_STATUS_LOSS_REVIEW, _OP.OPERATION_STATUS_DONE),
    (_OP.OPERATION_STATUS_LOSS_REVIEW, _OP.OPERATION_STATUS_REWORK),
}


def is_recordable_loss(event: prod.OperationChangedEvent) -> bool:
    op = event.operation
    return op.loss_mg > 0 and (event.from_status, op.status) in _LOSS_TRANSITIONS


class InventoryConsumers:
    """Decode the event, call the handler on units of work borrowed from the consumer's session."""

    def __init__(self, uows: SqlUnitOfWorkFactory[InventoryUnitOfWork], handlers: EventHandlers, wake: Wake) -> None:
        self._uows = uows
        self._handlers = handlers
        self._wake = wake

    def _on(self, session: AsyncSession, ctx: EventContext) -> EventHandlers:
        return self._handlers.bound(self._uows.borrow(session, causation_id=ctx.event_id))

    async def requirements_computed(
        self, session: AsyncSession, event: prod.RequirementsComputedEvent, ctx: EventContext
    ) -> None:
        await self._on(session, ctx).reserve_for_order(*codec.reserve_for_order(event))

    async def work_orders_released(
        self, session: AsyncSession, event: prod.WorkOrdersReleasedEvent, ctx: EventContext
    ) -> None:
        await self._on(session, ctx).commit_for_order(event.order_id)

    async def work_order_completed(
        self, session: AsyncSession, event: prod.WorkOrderCompletedEvent, ctx: EventContext
    ) -> None:
        if event.order_completed:
            await self._on(session, ctx).consume_for_order(event.work_order.order_id)

    async def operation_changed(
        self, session: AsyncSession, event: prod.OperationChangedEvent, ctx: EventContext
    ) -> None:
        if not is_recordable_loss(event):
            return
        op = event.operation
        await self._on(session, ctx).record_operation_loss(
            op.name, op.order_id, op.alloy_code, op.loss_mg, op.finished_by, ctx.event_id
        )

    async def work_orders_cancelled(
        self, session: AsyncSession, event: prod.WorkOrdersCancelledEvent, ctx: EventContext
    ) -> None:
        await self._on(session, ctx).settle_cancelled_work(event.order_id, codec.returned_metal(event), ctx.event_id)

    async def order_cancelled(
        self, session: AsyncSession, event: orders.OrderCancelledEvent, ctx: EventContext
    ) -> None:
        reason = (event.reason or "order cancelled")[:500]
        await self._on(session, ctx).release_for_order(event.order_id, reason, keep_committed=True)

    async def stock_changed(self, session: AsyncSession, event: object, ctx: EventContext) -> None:
        self._wake(ctx.event_id)  # the pass reads stock committed before this event was published


def consumer_specs(
    uows: SqlUnitOfWorkFactory[InventoryUnitOfWork], handlers: EventHandlers, *, wake: Wake
) -> list[ConsumerSpec]:
    """``wake(cause)``: the waiting-orders sweeper's (``WaitingSweeper.wake``)."""
    c = InventoryConsumers(uows, handlers, wake)
    return [
        ConsumerSpec(
            PRODUCTION_EVENTS,
            {
                events.REQUIREMENTS_COMPUTED: c.requirements_computed,
                events.WORK_ORDERS_RELEASED: c.work_orders_released,
                events.WORK_ORDER_COMPLETED: c.work_order_completed,
                events.OPERATION_FINISHED: c.operation_changed,
                events.OPERATION_REWORKED: c.operation_changed,
                events.OPERATION_CHANGED: c.operation_changed,
                events.WORK_ORDERS_CANCELLED: c.work_orders_cancelled,
            },
        ),
        ConsumerSpec(ORDER_EVENTS, {events.ORDER_CANCELLED: c.order_cancelled}),
        ConsumerSpec(
            STOCK_EVENTS, {events.LOT_RECEIVED: c.stock_changed, events.RESERVATION_RELEASED: c.stock_changed}
        ),
    ]
