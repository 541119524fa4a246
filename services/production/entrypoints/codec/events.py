"""Events: production's domain events -> registered event messages (``encode_event``, handed
to the unit-of-work factory), and the events production consumes -> handler commands."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any

from google.protobuf.message import Message

from mes.inventory.v1 import inventory_events_pb2 as inv
from mes.orders.v1 import orders_events_pb2 as orders
from mes.production.v1 import production_events_pb2 as ev
from mes_contracts import events as contracts
from mes_contracts.events import EventType
from services.production.domain import events
from services.production.domain.bom import MaterialRequirement
from services.production.domain.operations import OperationStatus
from services.production.domain.shifts import ShiftCalendarChanged
from services.production.entrypoints.codec.requests import line_specs
from services.production.entrypoints.codec.responses import (
    operation_msg,
    operation_status,
    requirement_msg,
    style_msg,
    timestamp,
    work_center_msg,
    work_center_state,
    work_order_msg,
)
from services.production.entrypoints.codec.shifts import calendar_msg
from services.production.service_layer.commands import OrderCancelled, OrderSubmitted, ReservationHeld

__all__ = ["encode_event", "order_cancelled", "order_submitted", "reservation_held"]


def _requirements(reqs: Iterable[MaterialRequirement]) -> list[Any]:
    return [requirement_msg(r) for r in reqs]


def _style_upserted(e: events.StyleUpserted) -> Message:
    return ev.StyleUpsertedEvent(style=style_msg(e.style))


def _requirements_computed(e: events.RequirementsComputed) -> Message:
    return ev.RequirementsComputedEvent(
        order_id=e.order_id,
        priority=e.priority,  # type: ignore[arg-type]  # 1..4
        requirements=_requirements(e.requirements),
        submit_time=timestamp(e.submit_time),
    )


def _requirements_failed(e: events.RequirementsFailed) -> Message:
    return ev.RequirementsFailedEvent(order_id=e.order_id, reason=e.reason)


def _released(e: events.WorkOrdersReleased) -> Message:
    return ev.WorkOrdersReleasedEvent(order_id=e.order_id, work_orders=[work_order_msg(w) for w in e.work_orders])


def _operation_changed(e: events.OperationChanged) -> Message:
    return ev.OperationChangedEvent(operation=operation_msg(e.operation), from_status=operation_status(e.from_status))


def _completed(e: events.WorkOrderCompleted) -> Message:
    return ev.WorkOrderCompletedEvent(work_order=work_order_msg(e.work_order), order_completed=e.order_completed)


def _cancelled(e: events.WorkOrdersCancelled) -> Message:
    return ev.WorkOrdersCancelledEvent(
        order_id=e.order_id, work_orders=[work_order_msg(w) for w in e.work_orders], returned=_requirements(e.returned)
    )


def _work_center_changed(e: events.WorkCenterChanged) -> Message:
    return ev.WorkCenterChangedEvent(
        work_center=work_center_msg(e.work_center), from_state=work_center_state(e.from_state)
    )


def _calendar_changed(e: ShiftCalendarChanged) -> Message:
    return ev.ShiftCalendarChangedEvent(calendar=calendar_msg(e.calendar))


#: Each domain event: its registered type and its payload.
_ENCODERS: dict[type, tuple[EventType[Message], Callable[[Any], Message]]] = {
    events.StyleUpserted: (contracts.STYLE_UPSERTED, _style_upserted),
    events.RequirementsComputed: (contracts.REQUIREMENTS_COMPUTED, _requirements_computed),
    events.RequirementsFailed: (contracts.REQUIREMENTS_FAILED, _requirements_failed),
    events.WorkOrdersReleased: (contracts.WORK_ORDERS_RELEASED, _released),
    events.WorkOrderCompleted: (contracts.WORK_ORDER_COMPLETED, _completed),
    events.WorkOrdersCancelled: (contracts.WORK_ORDERS_CANCELLED, _cancelled),
    events.WorkCenterChanged: (contracts.WORK_CENTER_CHANGED, _work_center_changed),
    ShiftCalendarChanged: (contracts.CALENDAR_CHANGED, _calendar_changed),
}


#: An operation's change goes out under the subject of the status it moved to (back in progress
#: from a pause: ``production.operation.resumed``).
_OPERATION_SUBJECTS: dict[OperationStatus, EventType[Message]] = {
    OperationStatus.QUEUED: contracts.OPERATION_QUEUED,
    OperationStatus.IN_PROGRESS: contracts.OPERATION_STARTED,
    OperationStatus.PAUSED: contracts.OPERATION_PAUSED,
    OperationStatus.DONE: contracts.OPERATION_FINISHED,
    OperationStatus.LOSS_REVIEW: contracts.OPERATION_IN_LOSS_REVIEW,
    OperationStatus.REWORK: contracts.OPERATION_REWORKED,
    OperationStatus.SKIPPED: contracts.OPERATION_SKIPPED,
    OperationStatus.CANCELLED: contracts.OPERATION_CANCELLED,
}


def encode_event(event: object) -> tuple[EventType[Message], Message]:
    """The registered type and protobuf payload of a domain event (``meta`` is filled by the outbox)."""
    if isinstance(event, events.OperationChanged):
        resumed = event.from_status is OperationStatus.PAUSED and event.operation.status is OperationStatus.IN_PROGRESS
        subject = contracts.OPERATION_RESUMED if resumed else _OPERATION_SUBJECTS[event.operation.status]
        return subject, _operation_changed(event)
    event_type, encode = _ENCODERS[type(event)]
    return event_type, encode(event)


# -- consumed ---------------------------------------------------------------------------


def order_submitted(event: orders.OrderSubmittedEvent) -> OrderSubmitted:
    order = event.order
    submit_time = order.create_time.ToDatetime(tzinfo=UTC) if order.HasField("create_time") else None
    return OrderSubmitted(order.order_id, order.priority, line_specs(order.lines), submit_time)


def order_cancelled(event: orders.OrderCancelledEvent) -> OrderCancelled:
    return OrderCancelled(event.order_id, event.reason)


def reservation_held(event: inv.ReservationHeldEvent) -> ReservationHeld:
    return ReservationHeld(event.order_id)
