"""The event consumers of the analytics service: one durable pull consumer per stream, shared by
every worker replica.

``analytics-orders``      (ORDERS)      submitted, status changed (shipped, cancelled), cancelled
``analytics-production``  (PRODUCTION)  work orders released / completed / cancelled, every
                                        operation change, shift calendars
``analytics-inventory``   (INVENTORY)   custody entries, alloys (fineness)
``analytics-facade``      (FACADE)      partners' API usage per minute

Each handler runs inside the consumer's transaction (the inbox row is already in it): the facts and
the stream's position commit with the inbox row or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from google.protobuf.message import Message

from mes_contracts import events
from mes_contracts.events import EventType, StreamName
from mes_kernel.clock import utcnow
from mes_kernel.uow import Transaction
from mes_platform.messaging.events import EventContext, Handler
from mes_platform.messaging.runtime import ConsumerSpec
from services.analytics.domain.facts import FactBatch
from services.analytics.entrypoints.codec import consumed
from services.analytics.service_layer.ports import UnitsOfWork
from services.analytics.service_layer.projection import Projection

__all__ = ["CONSUMED", "CONSUMED_STREAMS", "AnalyticsConsumers", "consumer_specs"]

Decode = Callable[[Any, datetime], FactBatch]

#: What each consumer handles, and how an event becomes facts.
CONSUMED: dict[str, dict[EventType[Message], Decode]] = {
    "orders": {
        events.ORDER_SUBMITTED: consumed.order_submitted,
        events.ORDER_STATUS_CHANGED: consumed.order_status_changed,
        events.ORDER_CANCELLED: consumed.order_cancelled,
    },
    "production": {
        events.WORK_ORDERS_RELEASED: consumed.work_orders_released,
        events.WORK_ORDER_COMPLETED: consumed.work_order_completed,
        events.WORK_ORDERS_CANCELLED: consumed.work_orders_cancelled,
        **dict.fromkeys(events.OPERATION_EVENTS, consumed.operation_changed),
        events.CALENDAR_CHANGED: consumed.calendar_changed,
    },
    "inventory": {
        events.CUSTODY_RECORDED: consumed.custody_recorded,
        events.ALLOY_UPSERTED: consumed.alloy_upserted,
    },
    "facade": {events.PARTNER_USAGE_RECORDED: consumed.usage_recorded},
}
#: The streams read, in the order the answers list their positions.
CONSUMED_STREAMS: tuple[StreamName, ...] = tuple(next(iter(handled)).stream for handled in CONSUMED.values())


class AnalyticsConsumers:
    def __init__(self, uows: UnitsOfWork, projection: Projection) -> None:
        self._uows = uows
        self._projection = projection

    def handler(self, event_type: EventType[Message], decode: Decode) -> Handler:
        stream = event_type.stream.name

        async def handle(session: Transaction, event: Any, ctx: EventContext) -> None:
            batch = decode(event, utcnow())
            mark = consumed.mark(stream, ctx.stream_sequence, event.meta)
            await self._projection.apply(batch, mark, uows=self._uows.borrow(session, causation_id=ctx.event_id))

        return handle


def consumer_specs(uows: UnitsOfWork, projection: Projection) -> list[ConsumerSpec]:
    c = AnalyticsConsumers(uows, projection)
    return [
        ConsumerSpec(purpose, {event_type: c.handler(event_type, decode) for event_type, decode in handled.items()})
        for purpose, handled in CONSUMED.items()
    ]
