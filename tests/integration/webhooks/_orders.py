"""Order events published on the ORDERS stream as the orders service's relay would (the
registered message types, ``Nats-Msg-Id`` = event id), for the webhooks tests and benchmark."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
from google.protobuf.message import Message
from nats.js import JetStreamContext

from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2
from mes_contracts import events
from mes_contracts.events import EventType

__all__ = ["LIFECYCLE", "OrderEvents", "order_events_on"]

#: A whole order life, status after status (the first is the submission).
LIFECYCLE = ("SUBMITTED", "ACCEPTED", "IN_PRODUCTION", "READY_TO_SHIP", "SHIPPED")


def _status(name: str) -> orders_pb2.OrderStatus.ValueType:
    return orders_pb2.OrderStatus.Value(f"ORDER_STATUS_{name}")


@dataclass
class OrderEvents:
    js: JetStreamContext
    #: Every event id published, in order.
    published: list[str] = field(default_factory=list)

    def _meta(self) -> common_pb2.EventMeta:
        meta = common_pb2.EventMeta(event_id=str(uuid.uuid4()), producer="orders")
        meta.occur_time.GetCurrentTime()
        return meta

    async def _publish(self, event_type: EventType[Message], message: Message, event_id: str) -> str:
        await self.js.publish(event_type.subject, message.SerializeToString(), headers={"Nats-Msg-Id": event_id})
        self.published.append(event_id)
        return event_id

    async def submitted(self, order_id: str, partner_id: str, reference: str) -> str:
        meta = self._meta()
        order = orders_pb2.Order(
            name=f"orders/{order_id}",
            order_id=order_id,
            partner=f"partners/{partner_id}",
            partner_reference=reference,
            status=_status("SUBMITTED"),
            version=1,
        )
        message = events.ORDER_SUBMITTED.message(meta=meta, order=order)
        return await self._publish(events.ORDER_SUBMITTED, message, meta.event_id)

    async def changed(self, order_id: str, partner_id: str, old: str, new: str, version: int, reason: str = "") -> str:
        meta = self._meta()
        message = events.ORDER_STATUS_CHANGED.message(
            meta=meta,
            order_id=order_id,
            partner_id=partner_id,
            from_status=_status(old),
            to_status=_status(new),
            reason=reason,
            order_version=version,
        )
        return await self._publish(events.ORDER_STATUS_CHANGED, message, meta.event_id)

    async def lifecycle(self, order_id: str, partner_id: str, reference: str, steps: int = len(LIFECYCLE)) -> None:
        """The submission and the next ``steps - 1`` status changes of one order."""
        await self.submitted(order_id, partner_id, reference)
        for version in range(2, steps + 1):
            await self.changed(order_id, partner_id, LIFECYCLE[version - 2], LIFECYCLE[version - 1], version)


@contextlib.asynccontextmanager
async def order_events_on(nats_url: str) -> AsyncIterator[OrderEvents]:
    """A publisher of order events on the server at ``nats_url`` (start the service first: it makes the stream)."""
    connection = await nats.connect(nats_url)
    try:
        yield OrderEvents(connection.jetstream())
    finally:
        await connection.close()
