"""Partners' webhook endpoints: register, list, change, enable/disable, rotate the secret, delete, and
read the deliveries and the delivery log (the webhooks service, ``mes.webhooks.v1``).

Every call acts for the caller's partner (``x-mes-partner``): the service confines it to that
partner's endpoints, so another partner's endpoint answers exactly like a missing one (null,
an empty list, or ``NOT_FOUND``). The signing secret is shown only by ``createWebhookEndpoint``
and ``rotateWebhookEndpointSecret``.

Without ``MES_FACADE_WEBHOOKS_ADDR`` the installation has no webhooks: every field here answers
``WEBHOOKS_NOT_ENABLED``. These answers are never served from the response cache (no event
announces a change of an endpoint; see ``response_cache.reads.LIVE_FIELDS``) and run on the generic
path, not as compiled plans.
"""

from __future__ import annotations

import functools
from datetime import datetime
from enum import Enum

import strawberry

from clients import NotFoundError
from clients.webhooks import WebhooksClient
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.schema.common import Long, optional_enum, to_datetime
from graphql_facade.schema.connections import Connection, list_connection
from graphql_facade.schema.info import Info, check_id, check_key, field, mutation
from mes.webhooks.v1 import webhooks_pb2 as pb

__all__ = [
    "NOT_ENABLED_MESSAGE",
    "PartnerWebhookMutation",
    "PartnerWebhookQuery",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookLogEntry",
]

NOT_ENABLED_MESSAGE = "Webhooks are not enabled on this installation."
_ENDPOINTS = "webhookEndpoints/"


# -- enums (values are the protobuf numbers) ----------------------------------------------


@strawberry.enum(description="What an endpoint can subscribe to.")
class WebhookEventType(Enum):
    ORDER_STATUS_CHANGED = strawberry.enum_value(
        pb.WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED,
        description="An order of yours changed status (a new order is the change to SUBMITTED); "
        "payload schema `mes.webhooks.order_status_changed/v1`.",
    )


@strawberry.enum(description="Whether deliveries are sent to an endpoint.")
class WebhookEndpointState(Enum):
    ENABLED = "enabled"
    DISABLED = "disabled"


@strawberry.enum(description="Who or what disabled an endpoint.")
class WebhookDisabledBy(Enum):
    PARTNER = strawberry.enum_value(pb.WEBHOOK_DISABLED_BY_PARTNER, description="You.")
    OPERATOR = strawberry.enum_value(pb.WEBHOOK_DISABLED_BY_OPERATOR, description="An operator of the factory.")
    FAILURES = strawberry.enum_value(
        pb.WEBHOOK_DISABLED_BY_FAILURES,
        description="Every delivery failed for the configured time (3 days by default).",
    )


@strawberry.enum(description="Where a delivery is.")
class WebhookDeliveryState(Enum):
    PENDING = strawberry.enum_value(pb.WEBHOOK_DELIVERY_STATE_PENDING, description="Waiting for its (next) attempt.")
    HELD = strawberry.enum_value(
        pb.WEBHOOK_DELIVERY_STATE_HELD, description="Kept while the endpoint is disabled; sent when it is enabled."
    )
    DELIVERED = strawberry.enum_value(pb.WEBHOOK_DELIVERY_STATE_DELIVERED, description="Your receiver answered 2xx.")
    DEAD = strawberry.enum_value(pb.WEBHOOK_DELIVERY_STATE_DEAD, description="Every retry failed (a dead letter).")


@strawberry.enum(description="What an entry of the delivery log records.")
class WebhookLogEntryKind(Enum):
    ATTEMPT = strawberry.enum_value(pb.WEBHOOK_LOG_ENTRY_KIND_ATTEMPT, description="One HTTP attempt of a delivery.")
    DEAD_LETTER = strawberry.enum_value(
        pb.WEBHOOK_LOG_ENTRY_KIND_DEAD_LETTER, description="A delivery ran out of retries."
    )
    ENDPOINT_DISABLED = strawberry.enum_value(
        pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_DISABLED,
        description="The endpoint was disabled (by you, an operator, or after failing for days: see `message`).",
    )
    ENDPOINT_ENABLED = strawberry.enum_value(
        pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_ENABLED, description="The endpoint was enabled; kept deliveries resume."
    )
    REPLAYED = strawberry.enum_value(pb.WEBHOOK_LOG_ENTRY_KIND_REPLAYED, description="Dead letters were sent again.")


# -- types ---------------------------------------------------------------------------------


def _text(value: str) -> str | None:
    return value or None


@strawberry.type(description="An endpoint of yours that receives signed webhook deliveries (never its secret).")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str
    event_types: list[WebhookEventType]
    state: WebhookEndpointState
    disabled_by: WebhookDisabledBy | None = strawberry.field(description="Set while disabled.")
    disabled_reason: str | None = strawberry.field(description="Why it is disabled (set while disabled).")
    disable_time: datetime | None = strawberry.field(description="When it was disabled (set while disabled).")
    failing_since: datetime | None = strawberry.field(
        description="Start of the current run of failed deliveries; null after a success. An endpoint "
        "failing for 3 days is disabled."
    )
    secret_create_time: datetime | None = strawberry.field(description="When the current signing secret was issued.")
    previous_secret_expire_time: datetime | None = strawberry.field(
        description="Until when the previous secret still signs beside the current one (null: no overlap)."
    )
    version: Long = strawberry.field(description="Changes with every change; give it to `updateWebhookEndpoint`.")
    create_time: datetime | None
    update_time: datetime | None

    @classmethod
    def from_pb(cls, endpoint: pb.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(endpoint.endpoint_id),
            url=endpoint.url,
            description=endpoint.description,
            event_types=[t for v in endpoint.event_types if (t := optional_enum(WebhookEventType, v)) is not None],
            state=WebhookEndpointState.ENABLED if endpoint.enabled else WebhookEndpointState.DISABLED,
            disabled_by=None if endpoint.enabled else optional_enum(WebhookDisabledBy, endpoint.disabled_by),
            disabled_reason=None if endpoint.enabled else _text(endpoint.disabled_reason),
            disable_time=None if endpoint.enabled else to_datetime(endpoint.disable_time),
            failing_since=to_datetime(endpoint.failing_since),
            secret_create_time=to_datetime(endpoint.secret_create_time),
            previous_secret_expire_time=to_datetime(endpoint.previous_secret_expire_time),
            version=Long(endpoint.version),
            create_time=to_datetime(endpoint.create_time),
            update_time=to_datetime(endpoint.update_time),
        )


@strawberry.type(description="One event for one endpoint, sent at least once (the same `id` on every attempt).")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The `webhook-id` header of every attempt.")
    endpoint_id: strawberry.ID
    event_type: WebhookEventType | None
    order_id: strawberry.ID | None = strawberry.field(description="The order the event is about.")
    order_version: Long | None
    state: WebhookDeliveryState | None
    attempts: int = strawberry.field(description="Attempts made so far.")
    next_attempt_time: datetime | None = strawberry.field(description="When the next attempt is due (PENDING only).")
    last_attempt_time: datetime | None
    last_http_status: int | None = strawberry.field(description="HTTP status of the last attempt (null: no answer).")
    last_error: str | None
    create_time: datetime | None
    deliver_time: datetime | None = strawberry.field(description="When your receiver answered 2xx.")
    payload: str = strawberry.field(description="The JSON body sent.")

    @classmethod
    def from_pb(cls, delivery: pb.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(delivery.delivery_id),
            endpoint_id=strawberry.ID(delivery.endpoint.removeprefix(_ENDPOINTS)),
            event_type=optional_enum(WebhookEventType, delivery.event_type),
            order_id=strawberry.ID(delivery.order_id) if delivery.order_id else None,
            order_version=Long(delivery.order_version) if delivery.order_version else None,
            state=optional_enum(WebhookDeliveryState, delivery.state),
            attempts=delivery.attempts,
            next_attempt_time=to_datetime(delivery.next_attempt_time),
            last_attempt_time=to_datetime(delivery.last_attempt_time),
            last_http_status=delivery.last_http_status or None,
            last_error=_text(delivery.last_error),
            create_time=to_datetime(delivery.create_time),
            deliver_time=to_datetime(delivery.deliver_time),
            payload=delivery.payload,
        )


@strawberry.type(description="An entry of an endpoint's delivery log: an attempt or a notice.")
class WebhookLogEntry:
    kind: WebhookLogEntryKind | None
    log_time: datetime | None
    delivery_id: strawberry.ID | None = strawberry.field(description="The delivery (attempts and dead letters).")
    event_type: WebhookEventType | None
    attempt: int | None = strawberry.field(description="1-based attempt number (attempts only).")
    http_status: int | None = strawberry.field(description="HTTP status of the attempt (null: no answer).")
    latency_ms: int | None = strawberry.field(description="Time to the answer, or to the failure.")
    error: str | None = strawberry.field(description="Why the attempt failed.")
    message: str | None = strawberry.field(description="A sentence for notices (disabled, enabled, replayed).")

    @classmethod
    def from_pb(cls, entry: pb.WebhookLogEntry) -> WebhookLogEntry:
        attempt = entry.kind == pb.WEBHOOK_LOG_ENTRY_KIND_ATTEMPT
        return cls(
            kind=optional_enum(WebhookLogEntryKind, entry.kind),
            log_time=to_datetime(entry.log_time),
            delivery_id=strawberry.ID(entry.delivery_id) if entry.delivery_id else None,
            event_type=optional_enum(WebhookEventType, entry.event_type),
            attempt=entry.attempt or None,
            http_status=entry.http_status or None,
            latency_ms=entry.latency_ms if attempt else None,
            error=_text(entry.error),
            message=_text(entry.message),
        )


# -- inputs and payloads -------------------------------------------------------------------


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="Where deliveries are POSTed: https, a public host, no credentials, at most 2048 characters."
    )
    event_types: list[WebhookEventType] = strawberry.field(description="At least one.")
    description: str = strawberry.field(default="", description="At most 500 characters.")


@strawberry.input(description="What to change in an endpoint (a field left out is unchanged).")
class UpdateWebhookEndpointInput:
    url: str | None = None
    description: str | None = None
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=None, description="The whole new set (at least one)."
    )


@strawberry.type(description="A registered endpoint and its signing secret.")
class CreateWebhookEndpointPayload:
    endpoint: WebhookEndpoint
    secret: str | None = strawberry.field(
        description="The signing secret (`whsec_...`), shown only here and by `rotateWebhookEndpointSecret`: "
        "keep it to verify the `webhook-signature` header. A retry with the same idempotencyKey shows it "
        "again; null when the secret was rotated since."
    )


@strawberry.type(description="An enabled endpoint.")
class EnableWebhookEndpointPayload:
    endpoint: WebhookEndpoint
    resumed_deliveries: Long = strawberry.field(
        description="Deliveries kept while the endpoint was disabled, now sent, oldest first."
    )


@strawberry.type(description="An endpoint with a new signing secret.")
class RotateWebhookEndpointSecretPayload:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="The new signing secret (`whsec_...`), shown only here. The previous one keeps signing "
        "beside it until `endpoint.previousSecretExpireTime` (24 h by default)."
    )


# -- resolvers -----------------------------------------------------------------------------


def _webhooks(info: Info) -> tuple[WebhooksClient, str]:
    """The webhooks client and the caller's partner; ``WEBHOOKS_NOT_ENABLED`` without the service."""
    context = info.context
    partner = context.partner
    if partner is None:
        raise FacadeError(ErrorCode.FORBIDDEN, "This operation is for partners.")
    if not context.settings.webhooks_addr:
        raise FacadeError(ErrorCode.WEBHOOKS_NOT_ENABLED, NOT_ENABLED_MESSAGE)
    return context.backend.webhooks, partner


def _number(member: Enum) -> int:
    """The protobuf number of a GraphQL enum value (``enum_value`` hides it from type checkers)."""
    return int(member.value)


def _event_type(member: WebhookEventType) -> pb.WebhookEventType.ValueType:
    return pb.WebhookEventType.ValueType(_number(member))


def _name(id: strawberry.ID, field: str = "id") -> str:
    return _ENDPOINTS + check_id(str(id), field)


@strawberry.type
class PartnerWebhookQuery:
    @field(description="Your webhook endpoints, oldest first.")
    async def webhook_endpoints(self, info: Info, first: int, after: str | None = None) -> Connection[WebhookEndpoint]:
        webhooks, partner = _webhooks(info)
        call = functools.partial(webhooks.list_webhook_endpoints, partner=partner)
        request = pb.ListWebhookEndpointsRequest()
        return await list_connection(call, request, lambda page: page.endpoints, WebhookEndpoint.from_pb, first, after)

    @field(description="One of your webhook endpoints (null when it does not exist).")
    async def webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint | None:
        webhooks, partner = _webhooks(info)
        name = _name(id)
        try:
            found = await webhooks.get_webhook_endpoint(name, partner=partner)
        except NotFoundError:
            return None
        return WebhookEndpoint.from_pb(found)

    @field(
        description="Deliveries of one of your endpoints (of all of them without `endpointId`), newest first; "
        "`states: [DEAD]` lists the dead letters."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        endpoint_id: strawberry.ID | None = None,
        states: list[WebhookDeliveryState] | None = None,
    ) -> Connection[WebhookDelivery]:
        webhooks, partner = _webhooks(info)
        parent = _name(endpoint_id, "endpointId") if endpoint_id is not None else ""
        request = pb.ListWebhookDeliveriesRequest(
            parent=parent, states=[pb.WebhookDeliveryState.ValueType(_number(s)) for s in states or []]
        )
        call = functools.partial(webhooks.list_webhook_deliveries, partner=partner)
        return await list_connection(call, request, lambda page: page.deliveries, WebhookDelivery.from_pb, first, after)

    @field(
        description="The delivery log of one of your endpoints, newest first: every attempt, dead letters, "
        "and when it was disabled (by whom, or after failing for days) or enabled."
    )
    async def webhook_log(
        self, info: Info, endpoint_id: strawberry.ID, first: int, after: str | None = None
    ) -> Connection[WebhookLogEntry]:
        webhooks, partner = _webhooks(info)
        request = pb.ListWebhookLogEntriesRequest(parent=_name(endpoint_id, "endpointId"))
        call = functools.partial(webhooks.list_webhook_log_entries, partner=partner)
        return await list_connection(call, request, lambda page: page.entries, WebhookLogEntry.from_pb, first, after)


def _invalid(field: str, description: str) -> FacadeError:
    return FacadeError(
        ErrorCode.INVALID_ARGUMENT,
        f"`{field}` {description}.",
        extensions={"fieldViolations": [{"field": field, "description": description}]},
    )


@strawberry.type
class PartnerWebhookMutation:
    @mutation(
        description="Register a webhook endpoint. The answer carries its signing secret, shown only here (and "
        "again by a retry with the same idempotencyKey and input); the same key with another input fails "
        "with IDEMPOTENCY_KEY_REUSED."
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput, idempotency_key: str
    ) -> CreateWebhookEndpointPayload:
        webhooks, partner = _webhooks(info)
        key = check_key(idempotency_key)
        if not key:
            raise _invalid("idempotencyKey", "is required")
        request = pb.CreateWebhookEndpointRequest(
            url=input.url,
            description=input.description,
            event_types=[_event_type(t) for t in input.event_types],
            request_id=key,
        )
        response = await webhooks.create_webhook_endpoint(request, partner=partner)
        return CreateWebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_pb(response.endpoint), secret=response.secret or None
        )

    @mutation(
        description="Change an endpoint's URL, description or event types. With `version` (the endpoint's, as "
        "you read it) the change fails with VERSION_CONFLICT when the endpoint changed meanwhile."
    )
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput, version: Long | None = None
    ) -> WebhookEndpoint:
        webhooks, partner = _webhooks(info)
        request = pb.UpdateWebhookEndpointRequest(name=_name(id), version=version or 0)
        if input.url is not None:
            request.url = input.url
        if input.description is not None:
            request.description = input.description
        if input.event_types is not None:
            if not input.event_types:
                raise _invalid("input.eventTypes", "must name at least one event type (leave it out to keep them)")
            request.event_types.extend(_event_type(t) for t in input.event_types)
        return WebhookEndpoint.from_pb(await webhooks.update_webhook_endpoint(request, partner=partner))

    @mutation(description="Enable an endpoint: the deliveries kept while it was disabled are sent, oldest first.")
    async def enable_webhook_endpoint(self, info: Info, id: strawberry.ID) -> EnableWebhookEndpointPayload:
        webhooks, partner = _webhooks(info)
        response = await webhooks.enable_webhook_endpoint(_name(id), partner=partner)
        return EnableWebhookEndpointPayload(
            endpoint=WebhookEndpoint.from_pb(response.endpoint), resumed_deliveries=Long(response.resumed_deliveries)
        )

    @mutation(description="Disable an endpoint: nothing is sent to it; its events are kept until it is enabled.")
    async def disable_webhook_endpoint(self, info: Info, id: strawberry.ID, reason: str = "") -> WebhookEndpoint:
        webhooks, partner = _webhooks(info)
        endpoint = await webhooks.disable_webhook_endpoint(_name(id), reason=reason, partner=partner)
        return WebhookEndpoint.from_pb(endpoint)

    @mutation(
        description="Issue a new signing secret, shown only in the answer. The previous secret keeps signing "
        "beside it for the overlap (24 h by default), so your receiver can switch without missing a delivery. "
        "Each call issues another secret."
    )
    async def rotate_webhook_endpoint_secret(self, info: Info, id: strawberry.ID) -> RotateWebhookEndpointSecretPayload:
        webhooks, partner = _webhooks(info)
        response = await webhooks.rotate_webhook_endpoint_secret(_name(id), partner=partner)
        return RotateWebhookEndpointSecretPayload(
            endpoint=WebhookEndpoint.from_pb(response.endpoint), secret=response.secret
        )

    @mutation(description="Delete an endpoint with its deliveries and log; answers its id.")
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        webhooks, partner = _webhooks(info)
        await webhooks.delete_webhook_endpoint(_name(id), partner=partner)
        return id
