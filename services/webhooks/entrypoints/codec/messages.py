"""Domain -> protobuf: the messages of the gRPC responses."""

from __future__ import annotations

from mes.webhooks.v1 import webhooks_pb2 as pb
from mes_platform.wire import message_from, timestamp
from services.webhooks.domain.delivery import Delivery, DeliveryState
from services.webhooks.domain.endpoint import DisabledBy, Endpoint, EventType
from services.webhooks.domain.log import LogEntry, LogKind
from services.webhooks.service_layer.deliveries import delivery_name
from services.webhooks.service_layer.endpoints import ENDPOINTS

__all__ = ["delivery", "delivery_state", "encode_event", "endpoint", "event_type", "log_entry"]

_EVENT_TYPES = {EventType.ORDER_STATUS_CHANGED: pb.WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED}
_DISABLED_BY = {
    DisabledBy.PARTNER: pb.WEBHOOK_DISABLED_BY_PARTNER,
    DisabledBy.OPERATOR: pb.WEBHOOK_DISABLED_BY_OPERATOR,
    DisabledBy.FAILURES: pb.WEBHOOK_DISABLED_BY_FAILURES,
}
_STATES = {
    DeliveryState.PENDING: pb.WEBHOOK_DELIVERY_STATE_PENDING,
    DeliveryState.HELD: pb.WEBHOOK_DELIVERY_STATE_HELD,
    DeliveryState.DELIVERED: pb.WEBHOOK_DELIVERY_STATE_DELIVERED,
    DeliveryState.DEAD: pb.WEBHOOK_DELIVERY_STATE_DEAD,
}
_KINDS = {
    LogKind.ATTEMPT: pb.WEBHOOK_LOG_ENTRY_KIND_ATTEMPT,
    LogKind.DEAD_LETTER: pb.WEBHOOK_LOG_ENTRY_KIND_DEAD_LETTER,
    LogKind.ENDPOINT_DISABLED: pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_DISABLED,
    LogKind.ENDPOINT_ENABLED: pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_ENABLED,
    LogKind.REPLAYED: pb.WEBHOOK_LOG_ENTRY_KIND_REPLAYED,
}


def encode_event(event: object) -> object:
    """The service publishes no events (the unit-of-work factory asks for an encoder)."""
    raise TypeError(f"the webhooks service publishes no events, got {type(event).__name__}")


def event_type(value: EventType | None) -> pb.WebhookEventType.ValueType:
    return _EVENT_TYPES[value] if value is not None else pb.WEBHOOK_EVENT_TYPE_UNSPECIFIED


def delivery_state(value: DeliveryState) -> pb.WebhookDeliveryState.ValueType:
    return _STATES[value]


def endpoint(value: Endpoint) -> pb.WebhookEndpoint:
    overlap = value.previous_secret_expires_at if value.previous_secret else None
    return pb.WebhookEndpoint(
        name=f"{ENDPOINTS}/{value.endpoint_id}",
        endpoint_id=value.endpoint_id,
        partner=f"partners/{value.partner_id}",
        url=value.url,
        description=value.description,
        event_types=sorted(event_type(t) for t in value.event_types),
        enabled=value.enabled,
        disabled_by=_DISABLED_BY[value.disabled_by] if value.disabled_by else pb.WEBHOOK_DISABLED_BY_UNSPECIFIED,
        disabled_reason=value.disabled_reason,
        disable_time=timestamp(value.disabled_at),
        failing_since=timestamp(value.failing_since),
        secret_create_time=timestamp(value.secret_created_at),
        previous_secret_expire_time=timestamp(overlap),
        version=value.version,
        create_time=timestamp(value.created_at),
        update_time=timestamp(value.updated_at),
    )


def delivery(value: Delivery) -> pb.WebhookDelivery:
    return message_from(
        pb.WebhookDelivery,
        value,
        name=delivery_name(value),
        endpoint=f"{ENDPOINTS}/{value.endpoint_id}",
        event_type=event_type(value.event_type),
        state=delivery_state(value.state),
        create_time=timestamp(value.created_at),
        next_attempt_time=timestamp(value.next_attempt_at if value.state is DeliveryState.PENDING else None),
        last_attempt_time=timestamp(value.last_attempt_at),
        deliver_time=timestamp(value.delivered_at),
    )


def log_entry(value: LogEntry) -> pb.WebhookLogEntry:
    return message_from(
        pb.WebhookLogEntry,
        value,
        kind=_KINDS[value.kind],
        log_time=timestamp(value.logged_at),
        event_type=event_type(value.event_type),
    )
