"""The registry of events: subject -> protobuf message type -> stream.

Every event the MES publishes is declared here once. Producers name what they emit
(``ORDER_SUBMITTED``), consumers name what they act on (``ConsumerSpec`` takes
:class:`EventType` keys), the outbox codec and the facade decode through
:func:`decode`, and the tests use the same constants: no subject string is written
anywhere else.

Subjects belong to the publishing service: ``<service>.<entity>.<verb>``; each service's
events go to its own stream (:data:`STREAMS`). The GraphQL facade publishes too (the partners'
API usage, ``facade.*``) into a stream of its own, :data:`FACADE_STREAM`: not one of
:data:`STREAMS`, which the services ensure at start and the facade consumes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import Message

from mes.facade.v1 import usage_events_pb2 as fac
from mes.inventory.v1 import inventory_events_pb2 as inv
from mes.orders.v1 import orders_events_pb2 as ords
from mes.production.v1 import production_events_pb2 as prod

__all__ = [
    "ALLOY_UPSERTED",
    "ALL_EVENTS",
    "ALL_STREAMS",
    "CALENDAR_CHANGED",
    "CUSTODY_RECORDED",
    "FACADE_STREAM",
    "INVENTORY_STREAM",
    "LOT_RECEIVED",
    "OPERATION_CANCELLED",
    "OPERATION_CHANGED",
    "OPERATION_EVENTS",
    "OPERATION_FINISHED",
    "OPERATION_IN_LOSS_REVIEW",
    "OPERATION_PAUSED",
    "OPERATION_QUEUED",
    "OPERATION_RESUMED",
    "OPERATION_REWORKED",
    "OPERATION_SKIPPED",
    "OPERATION_STARTED",
    "ORDERS_STREAM",
    "ORDER_CANCELLED",
    "ORDER_STATUS_CHANGED",
    "ORDER_SUBMITTED",
    "PARTNER_EVENTS",
    "PARTNER_KEY_REVOKED",
    "PARTNER_KEY_ROTATED",
    "PARTNER_TIER_CHANGED",
    "PARTNER_USAGE_RECORDED",
    "PRODUCTION_STREAM",
    "REQUIREMENTS_COMPUTED",
    "REQUIREMENTS_FAILED",
    "RESERVATION_COMMITTED",
    "RESERVATION_CONSUMED",
    "RESERVATION_FAILED",
    "RESERVATION_HELD",
    "RESERVATION_RELEASED",
    "STREAMS",
    "STYLE_UPSERTED",
    "WORK_CENTER_CHANGED",
    "WORK_ORDERS_CANCELLED",
    "WORK_ORDERS_RELEASED",
    "WORK_ORDER_COMPLETED",
    "EventType",
    "StreamName",
    "UnknownSubject",
    "by_subject",
    "decode",
    "events_of",
    "stream_of",
]

M = TypeVar("M", bound=Message, covariant=True)


class UnknownSubject(KeyError):
    """No event type is registered under this subject."""


@dataclass(frozen=True)
class StreamName:
    """A JetStream stream and the subject filter of the service whose events it holds."""

    name: str
    service: str
    description: str

    @property
    def subjects(self) -> tuple[str, ...]:
        return (f"{self.service}.>",)


ORDERS_STREAM = StreamName("ORDERS", "orders", "Events of the orders service")
INVENTORY_STREAM = StreamName("INVENTORY", "inventory", "Events of the inventory service")
PRODUCTION_STREAM = StreamName("PRODUCTION", "production", "Events of the production service")
#: The services' streams: every service ensures them at start, every facade replica consumes them.
STREAMS: tuple[StreamName, ...] = (ORDERS_STREAM, INVENTORY_STREAM, PRODUCTION_STREAM)
#: The facade's own stream (partners' API usage): only the facade ensures it, before publishing.
FACADE_STREAM = StreamName("FACADE", "facade", "Events of the GraphQL facade (partners' API usage)")
ALL_STREAMS: tuple[StreamName, ...] = (*STREAMS, FACADE_STREAM)
_STREAM_BY_SERVICE = {s.service: s for s in ALL_STREAMS}


@dataclass(frozen=True)
class EventType(Generic[M]):
    """One kind of event: its subject and the message type of its payload."""

    subject: str
    message: type[M]

    @property
    def service(self) -> str:
        """The publishing service (the subject's first token)."""
        return self.subject.split(".", 1)[0]

    @property
    def stream(self) -> StreamName:
        return _STREAM_BY_SERVICE[self.service]

    def decode(self, payload: bytes) -> M:
        """Parse a payload (``google.protobuf.message.DecodeError`` when it is not one)."""
        return self.message.FromString(payload)

    def __str__(self) -> str:
        return self.subject


# -- orders ---------------------------------------------------------------------------
ORDER_SUBMITTED = EventType("orders.order.submitted", ords.OrderSubmittedEvent)
ORDER_STATUS_CHANGED = EventType("orders.order.status_changed", ords.OrderStatusChangedEvent)
ORDER_CANCELLED = EventType("orders.order.cancelled", ords.OrderCancelledEvent)
#: A partner's credentials or tier changed: the facade forgets the cached keys and closes (or
#: re-limits) the partner's open WebSockets on every replica.
PARTNER_KEY_REVOKED = EventType("orders.partner.key_revoked", ords.PartnerKeyRevokedEvent)
PARTNER_KEY_ROTATED = EventType("orders.partner.key_rotated", ords.PartnerKeyRotatedEvent)
PARTNER_TIER_CHANGED = EventType("orders.partner.tier_changed", ords.PartnerTierChangedEvent)

# -- inventory ------------------------------------------------------------------------
ALLOY_UPSERTED = EventType("inventory.alloy.upserted", inv.AlloyUpsertedEvent)
LOT_RECEIVED = EventType("inventory.lot.received", inv.LotReceivedEvent)
RESERVATION_HELD = EventType("inventory.reservation.held", inv.ReservationHeldEvent)
RESERVATION_FAILED = EventType("inventory.reservation.failed", inv.ReservationFailedEvent)
RESERVATION_RELEASED = EventType("inventory.reservation.released", inv.ReservationReleasedEvent)
RESERVATION_COMMITTED = EventType("inventory.reservation.committed", inv.ReservationStateChangedEvent)
RESERVATION_CONSUMED = EventType("inventory.reservation.consumed", inv.ReservationStateChangedEvent)
CUSTODY_RECORDED = EventType("inventory.custody.recorded", inv.CustodyRecordedEvent)

# -- production -----------------------------------------------------------------------
STYLE_UPSERTED = EventType("production.style.upserted", prod.StyleUpsertedEvent)
REQUIREMENTS_COMPUTED = EventType("production.requirements.computed", prod.RequirementsComputedEvent)
REQUIREMENTS_FAILED = EventType("production.requirements.failed", prod.RequirementsFailedEvent)
WORK_ORDERS_RELEASED = EventType("production.work_orders.released", prod.WorkOrdersReleasedEvent)
# An operation's change goes out under the subject of its outcome (the status it moved to),
# so that a consumer subscribes only to the outcomes it acts on (inventory: the two whose
# loss is final); the payload is the same OperationChangedEvent for all of them.
OPERATION_QUEUED = EventType("production.operation.queued", prod.OperationChangedEvent)
OPERATION_STARTED = EventType("production.operation.started", prod.OperationChangedEvent)
OPERATION_PAUSED = EventType("production.operation.paused", prod.OperationChangedEvent)
OPERATION_RESUMED = EventType("production.operation.resumed", prod.OperationChangedEvent)
OPERATION_FINISHED = EventType("production.operation.finished", prod.OperationChangedEvent)
OPERATION_IN_LOSS_REVIEW = EventType("production.operation.loss_review", prod.OperationChangedEvent)
OPERATION_REWORKED = EventType("production.operation.reworked", prod.OperationChangedEvent)
OPERATION_SKIPPED = EventType("production.operation.skipped", prod.OperationChangedEvent)
OPERATION_CANCELLED = EventType("production.operation.cancelled", prod.OperationChangedEvent)
#: Every operation change before the split by outcome: no longer written, still decoded and
#: consumed so that events an earlier release left in the stream are not lost.
OPERATION_CHANGED = EventType("production.operation.changed", prod.OperationChangedEvent)
WORK_ORDER_COMPLETED = EventType("production.work_order.completed", prod.WorkOrderCompletedEvent)
WORK_ORDERS_CANCELLED = EventType("production.work_orders.cancelled", prod.WorkOrdersCancelledEvent)
WORK_CENTER_CHANGED = EventType("production.work_center.changed", prod.WorkCenterChangedEvent)
#: A work center's shift calendar or hourly output target was set (SetShiftCalendar).
CALENDAR_CHANGED = EventType("production.work_center.calendar_changed", prod.ShiftCalendarChangedEvent)

# -- facade ---------------------------------------------------------------------------
#: One partner's API usage during one minute on one facade replica (``graphql_facade.usage``).
PARTNER_USAGE_RECORDED = EventType("facade.partner_usage.recorded", fac.PartnerUsageRecordedEvent)

#: The subjects of an operation's change, the legacy one last.
OPERATION_EVENTS: tuple[EventType[prod.OperationChangedEvent], ...] = (
    OPERATION_QUEUED,
    OPERATION_STARTED,
    OPERATION_PAUSED,
    OPERATION_RESUMED,
    OPERATION_FINISHED,
    OPERATION_IN_LOSS_REVIEW,
    OPERATION_REWORKED,
    OPERATION_SKIPPED,
    OPERATION_CANCELLED,
    OPERATION_CHANGED,
)
#: The events of a partner's credentials and tier.
PARTNER_EVENTS: tuple[EventType[Message], ...] = (PARTNER_KEY_REVOKED, PARTNER_KEY_ROTATED, PARTNER_TIER_CHANGED)
ALL_EVENTS: tuple[EventType[Message], ...] = (
    ORDER_SUBMITTED,
    ORDER_STATUS_CHANGED,
    ORDER_CANCELLED,
    *PARTNER_EVENTS,
    ALLOY_UPSERTED,
    LOT_RECEIVED,
    RESERVATION_HELD,
    RESERVATION_FAILED,
    RESERVATION_RELEASED,
    RESERVATION_COMMITTED,
    RESERVATION_CONSUMED,
    CUSTODY_RECORDED,
    STYLE_UPSERTED,
    REQUIREMENTS_COMPUTED,
    REQUIREMENTS_FAILED,
    WORK_ORDERS_RELEASED,
    *OPERATION_EVENTS,
    WORK_ORDER_COMPLETED,
    WORK_ORDERS_CANCELLED,
    WORK_CENTER_CHANGED,
    CALENDAR_CHANGED,
    PARTNER_USAGE_RECORDED,
)
_BY_SUBJECT: Mapping[str, EventType[Message]] = {e.subject: e for e in ALL_EVENTS}


def by_subject(subject: str) -> EventType[Message]:
    """The event type published under ``subject`` (:class:`UnknownSubject` otherwise)."""
    try:
        return _BY_SUBJECT[subject]
    except KeyError:
        raise UnknownSubject(subject) from None


def decode(subject: str, payload: bytes) -> Message:
    """The payload of an event published under ``subject``, parsed."""
    return by_subject(subject).decode(payload)


def stream_of(subject: str) -> StreamName:
    return by_subject(subject).stream


def events_of(service: str) -> Iterable[EventType[Message]]:
    """The event types a service publishes."""
    return tuple(e for e in ALL_EVENTS if e.service == service)
