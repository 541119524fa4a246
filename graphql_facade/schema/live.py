"""Types pushed by subscriptions. Every operator event carries the JetStream sequence it was
published at, and every snapshot the sequence of the last event folded into it, so a client that
reconnects resumes with ``since`` or refetches on ``ResyncRequired``.

Partners see a *position* instead of a sequence: the sequence sealed to the partner
(:mod:`graphql_facade.positions_sealed`), since the ORDERS sequence counts every partner's events
and its gaps would tell a partner how busy the others are. Positions resume a subscription the
same way (``since``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated

import strawberry

from graphql_facade.context import RequestContext
from graphql_facade.events import Resync, StatusEvent
from graphql_facade.schema.common import Long, OrderStatus, optional_enum
from graphql_facade.schema.orders import OrderCounts
from graphql_facade.subscriptions import CountersSnapshot

__all__ = [
    "DashboardCounters",
    "OperatorOrderStatusChanged",
    "OperatorStatusUpdate",
    "PartnerOrderStatusChanged",
    "PartnerResyncRequired",
    "PartnerStatusUpdate",
    "ResyncRequired",
    "status_updates",
]


@strawberry.type(description="Events were missed: refetch the snapshot and subscribe again with its `seq`.")
class ResyncRequired:
    seq: Long = strawberry.field(
        description="The latest sequence known to the server of the subscription's stream (ORDERS for order "
        "events, PRODUCTION for `floorEvents`)."
    )
    reason: str


@strawberry.type(
    name="ResyncRequired",
    description="Events were missed: refetch your orders and subscribe again with this `position`.",
)
class PartnerResyncRequired:
    position: str = strawberry.field(description="The latest position known to the server (opaque, yours only).")
    reason: str


@strawberry.type
class _StatusChange:
    at: datetime
    order_id: strawberry.ID
    from_status: OrderStatus | None
    to_status: OrderStatus | None
    reason: str
    order_version: Long


@strawberry.type(name="OrderStatusChanged", description="An order moved to another status.")
class PartnerOrderStatusChanged(_StatusChange):
    position: str = strawberry.field(
        description="Where this event stands in your stream: opaque, valid for you only; "
        "pass it as `since` to resume after it."
    )


@strawberry.type(name="OrderStatusChanged", description="An order moved to another status.")
class OperatorOrderStatusChanged(_StatusChange):
    seq: Long = strawberry.field(description="ORDERS stream sequence of the event.")
    partner_id: strawberry.ID


PartnerStatusUpdate = Annotated[
    PartnerOrderStatusChanged | PartnerResyncRequired, strawberry.union("OrderStatusUpdate")
]
OperatorStatusUpdate = Annotated[OperatorOrderStatusChanged | ResyncRequired, strawberry.union("OrderStatusUpdate")]


@strawberry.type(description="Order counts per status, pushed when they change.")
class DashboardCounters:
    seq: Long = strawberry.field(description="ORDERS sequence of the last event folded in (at least).")
    at: datetime
    counts: OrderCounts

    @classmethod
    def from_snapshot(cls, snapshot: CountersSnapshot) -> DashboardCounters:
        return cls(seq=Long(snapshot.seq), at=snapshot.time, counts=OrderCounts.from_pb(snapshot.counts))


async def status_updates(
    context: RequestContext,
    *,
    order_ids: Sequence[str] | None,
    partner_id: str | None,
    statuses: Sequence[OrderStatus] | None,
    since: int | None,
) -> AsyncIterator[StatusEvent | Resync]:
    """The hub's status events after the filters; partners only ever see their own orders."""
    viewer = context.viewer
    own = viewer.partner_id
    ids = set(order_ids) if order_ids else None
    wanted = {s.value for s in statuses} if statuses else None
    async with context.slots.hold(viewer):
        async for event in context.hub.status_events(since, partner_id=own):
            if isinstance(event, Resync):
                yield event
                continue
            if own is not None and event.partner_id != own:
                continue
            if partner_id is not None and event.partner_id != partner_id:
                continue
            if ids is not None and event.order_id not in ids:
                continue
            if wanted is not None and event.to_status not in wanted:
                continue
            yield event


def partner_event(
    event: StatusEvent | Resync, partner_id: str, context: RequestContext
) -> PartnerOrderStatusChanged | PartnerResyncRequired:
    """The partner's view of a hub event: its sequence sealed to the partner. A resync notice
    carries the partner's position (not the stream's head, which moves with other partners)."""
    sealer = context.positions
    if isinstance(event, Resync):
        position = sealer.seal(partner_id, context.hub.partner_position(partner_id))
        return PartnerResyncRequired(position=position, reason=event.reason)
    return PartnerOrderStatusChanged(
        position=sealer.seal(partner_id, event.seq),
        at=event.time,
        order_id=strawberry.ID(event.order_id),
        from_status=optional_enum(OrderStatus, event.from_status),
        to_status=optional_enum(OrderStatus, event.to_status),
        reason=event.reason,
        order_version=Long(event.order_version),
    )


def operator_event(event: StatusEvent | Resync) -> OperatorOrderStatusChanged | ResyncRequired:
    if isinstance(event, Resync):
        return ResyncRequired(seq=Long(event.seq), reason=event.reason)
    return OperatorOrderStatusChanged(
        seq=Long(event.seq),
        at=event.time,
        order_id=strawberry.ID(event.order_id),
        partner_id=strawberry.ID(event.partner_id),
        from_status=optional_enum(OrderStatus, event.from_status),
        to_status=optional_enum(OrderStatus, event.to_status),
        reason=event.reason,
        order_version=Long(event.order_version),
    )
