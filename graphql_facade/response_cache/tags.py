"""The vocabulary of cache dependencies, and what each event of :mod:`mes_contracts.events` touches.

A cached answer *reads* a set of tags (:mod:`graphql_facade.response_cache.reads`); an event
*touches* a set of tags; the answer goes stale when an event newer than the answer touches one
of the tags it reads. The tags:

=====================  ==================================================================
``*``                  everything: every event touches it (answers whose reads are unknown)
``o:<p>:<s>``          the membership and the fields of order lists: partner ``<p>`` (or
                       ``*``: any partner) and status ``<s>`` (or ``*``: any status). A
                       status event of partner P from A to B touches ``o:{P,*}:{A,B,*}``
``order:<id>``         one order's own fields and status history
``prod:<id>``          the work orders and operations of one order
``prod:*``             anything in production (work-center stats, metal loss, queues)
``inv:<id>``           the reservations of one order
``inv:*``              anything in inventory (balances, shortages, lots)
``wc:<code>``          the queue, stats, state, calendar and output of one work center; ``wc:?``
                       an unknown one
``wc:*``               the queues and stats of all work centers (the floor's tiles and WIP)
``style:*``            styles (the catalogue); ``alloy:*`` alloys
``analytics:*``        the analytics read model (partner, flow and metal analytics): touched by
                       no event (its answers live for the analytics TTL, see ``config``)
=====================  ==================================================================

:func:`touches` maps an event (subject and payload) to its tags; for an undecodable payload,
one without the identifiers its type must carry, or a subject this table does not know it
answers None: such an event touches every answer. Inventory reacts to a cancelled order
without an event of its own when the order was only waiting for material (its shortage
disappears), so ``orders.order.cancelled`` also touches ``inv:*``. A partner's key and tier events
touch no answer but those that read ``*``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf.message import DecodeError, Message

from mes.facade.v1 import usage_events_pb2 as fac_ev
from mes.inventory.v1 import inventory_events_pb2 as inv_ev
from mes.orders.v1 import orders_events_pb2 as ord_ev
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_events_pb2 as prod_ev
from mes_contracts import events

__all__ = [
    "ALLOYS",
    "ANALYTICS",
    "ANY",
    "INVENTORY",
    "PRODUCTION",
    "STYLES",
    "TOUCHES",
    "WORK_CENTERS",
    "WORK_CENTER_UNKNOWN",
    "inventory_of",
    "order_lists",
    "order_of",
    "production_of",
    "status_name",
    "touches",
    "work_center",
]

ANY = "*"
PRODUCTION = "prod:*"
INVENTORY = "inv:*"
WORK_CENTERS = "wc:*"
WORK_CENTER_UNKNOWN = "wc:?"
STYLES = "style:*"
ALLOYS = "alloy:*"
#: What the analytics service computed: no event says when it changed (the read model applies the
#: streams on its own time), so no event touches it.
ANALYTICS = "analytics:*"
_ANY = frozenset({ANY})


def order_lists(partner: str | None, status: str | None) -> str:
    """Order lists of ``partner`` (None: all partners) filtered on ``status`` (None: any status)."""
    return f"o:{partner or '*'}:{status or '*'}"


def order_of(order_id: str) -> str:
    return f"order:{order_id}"


def production_of(order_id: str) -> str:
    return f"prod:{order_id}"


def inventory_of(order_id: str) -> str:
    return f"inv:{order_id}"


def work_center(code: str) -> str:
    return f"wc:{code}"


def status_name(status: int) -> str:
    """``ORDER_STATUS_SUBMITTED`` (proto value) -> ``SUBMITTED`` (the GraphQL enum's name)."""
    try:
        return orders_pb2.OrderStatus.Name(status).removeprefix("ORDER_STATUS_")  # type: ignore[arg-type]
    except ValueError:
        return str(status)


class _Missing(Exception):
    """The payload lacks an identifier its event type must carry."""


def _need(value: str) -> str:
    if not value:
        raise _Missing
    return value


def _status_change(order_id: str, partner: str, *statuses: int) -> set[str]:
    tags = {order_of(_need(order_id))}
    for who in (_need(partner), None):
        tags.add(order_lists(who, None))
        tags.update(order_lists(who, status_name(s)) for s in statuses if s)
    return tags


def _submitted(msg: Any) -> Iterable[str]:
    order = msg.order
    status = order.status or orders_pb2.ORDER_STATUS_SUBMITTED
    return _status_change(order.order_id, order.partner.removeprefix("partners/"), status)


def _status_changed(msg: Any) -> Iterable[str]:
    return _status_change(msg.order_id, msg.partner_id, msg.from_status, msg.to_status)


def _cancelled(msg: Any) -> Iterable[str]:
    tags = _status_change(msg.order_id, msg.partner_id, msg.previous_status, orders_pb2.ORDER_STATUS_CANCELLED)
    return tags | {INVENTORY, inventory_of(msg.order_id)}


def _reservation(msg: Any) -> Iterable[str]:
    return (INVENTORY, inventory_of(_need(msg.order_id)))


def _inventory(msg: Any) -> Iterable[str]:
    return (INVENTORY,)


def _alloy(msg: Any) -> Iterable[str]:
    return (ALLOYS, INVENTORY)  # balances show fine weights derived from the alloy's fineness


def _style(msg: Any) -> Iterable[str]:
    return (STYLES,)


def _partner_credentials(msg: Any) -> Iterable[str]:
    return ()  # no answer shows keys or tiers (the WebSockets and the key cache act on these events)


def _usage(msg: Any) -> Iterable[str]:
    return ()  # no answer shows API usage (the facade publishes these events, no replica consumes them)


def _order_production(order_id: str, *centers: str) -> set[str]:
    tags = {PRODUCTION, production_of(_need(order_id))}
    if centers:
        tags.add(WORK_CENTERS)
        tags.update(work_center(c) if c else WORK_CENTER_UNKNOWN for c in centers)
    return tags


def _requirements(msg: Any) -> Iterable[str]:
    return _order_production(msg.order_id)


def _work_orders(msg: Any) -> Iterable[str]:
    return _order_production(msg.order_id, "")  # operations appear in (or leave) queues not named here


def _operation(msg: Any) -> Iterable[str]:
    op = msg.operation
    return _order_production(op.order_id, op.work_center.removeprefix("workCenters/"))


def _work_order_completed(msg: Any) -> Iterable[str]:
    return _order_production(msg.work_order.order_id)


def _work_center_changed(msg: Any) -> Iterable[str]:
    return (WORK_CENTERS, work_center(_need(msg.work_center.code)))  # its state, reason and time


def _calendar_changed(msg: Any) -> Iterable[str]:
    code = _need(msg.calendar.name).removeprefix("workCenters/").removesuffix("/calendar")
    return (WORK_CENTERS, work_center(_need(code)))  # its calendar, targets and output


#: Per payload type, the tags an event carrying it touches (every event also touches ``*``). One
#: payload type may travel under several subjects (an operation's change under its outcome's).
_BY_PAYLOAD: dict[type[Message], Callable[[Any], Iterable[str]]] = {
    ord_ev.OrderSubmittedEvent: _submitted,
    ord_ev.OrderStatusChangedEvent: _status_changed,
    ord_ev.OrderCancelledEvent: _cancelled,
    ord_ev.PartnerKeyRevokedEvent: _partner_credentials,
    ord_ev.PartnerKeyRotatedEvent: _partner_credentials,
    ord_ev.PartnerTierChangedEvent: _partner_credentials,
    inv_ev.AlloyUpsertedEvent: _alloy,
    inv_ev.LotReceivedEvent: _inventory,
    inv_ev.ReservationHeldEvent: _reservation,
    inv_ev.ReservationFailedEvent: _reservation,
    inv_ev.ReservationReleasedEvent: _reservation,
    inv_ev.ReservationStateChangedEvent: _reservation,
    inv_ev.CustodyRecordedEvent: _inventory,
    prod_ev.StyleUpsertedEvent: _style,
    prod_ev.RequirementsComputedEvent: _requirements,
    prod_ev.RequirementsFailedEvent: _requirements,
    prod_ev.WorkOrdersReleasedEvent: _work_orders,
    prod_ev.OperationChangedEvent: _operation,
    prod_ev.WorkOrderCompletedEvent: _work_order_completed,
    prod_ev.WorkOrdersCancelledEvent: _work_orders,
    prod_ev.WorkCenterChangedEvent: _work_center_changed,
    prod_ev.ShiftCalendarChangedEvent: _calendar_changed,
    fac_ev.PartnerUsageRecordedEvent: _usage,
}
#: Per event type of the registry, its rule (an event type whose payload has none touches everything).
TOUCHES: dict[events.EventType[Message], Callable[[Any], Iterable[str]]] = {
    kind: _BY_PAYLOAD[kind.message] for kind in events.ALL_EVENTS if kind.message in _BY_PAYLOAD
}


def touches(subject: str, payload: bytes) -> frozenset[str] | None:
    """The tags an event touches (``*`` among them); None when it cannot be read (it touches everything)."""
    try:
        kind = events.by_subject(subject)
        rule = TOUCHES[kind]
        return frozenset(rule(kind.decode(payload))) | _ANY
    except (events.UnknownSubject, KeyError, DecodeError, _Missing):
        return None
