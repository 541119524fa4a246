"""The partners' schema: submit and follow their own orders, cancel them, read the catalogue.

The partner comes only from the API key; every call to the orders service acts for it, so
another partner's order is indistinguishable from a missing one.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime

import strawberry

from graphql_facade.context import RequestContext
from graphql_facade.errors import ErrorCode, FacadeError
from graphql_facade.positions_sealed import InvalidPosition
from graphql_facade.schema.catalogue import alloys_page, styles_page
from graphql_facade.schema.common import Alloy, OrderStatus, Priority, Style
from graphql_facade.schema.connections import Connection, list_connection
from graphql_facade.schema.info import Info, check_id, check_key, field, mutation, subscription
from graphql_facade.schema.live import PartnerStatusUpdate, partner_event, status_updates
from graphql_facade.schema.orders import PartnerOrder
from graphql_facade.schema.webhooks import PartnerWebhookMutation, PartnerWebhookQuery
from mes.orders.v1 import orders_pb2 as ords

__all__ = [
    "PartnerAsOf",
    "PartnerMutation",
    "PartnerQuery",
    "PartnerSubscription",
    "open_position",
    "own_orders_request",
    "partner_as_of",
    "partner_of",
]


@strawberry.input(name="OrderFilter", description="Which of your orders to list.")
class PartnerOrderFilter:
    statuses: list[OrderStatus] | None = None
    late_only: bool = False


@strawberry.input(description="One line of a new order.")
class OrderLineInput:
    style_code: str
    alloy_code: str
    quantity: int
    size: str = ""
    engraving: str = ""


@strawberry.input(description="A new order.")
class SubmitOrderInput:
    partner_reference: str
    due_time: datetime
    lines: list[OrderLineInput]
    priority: Priority = Priority.NORMAL


@strawberry.type(description="The submitted order; `replayed` is true when the idempotency key was seen before.")
class SubmitOrderPayload:
    order: PartnerOrder
    replayed: bool


def _submit_request(order: SubmitOrderInput, key: str) -> ords.SubmitOrderRequest:
    request = ords.SubmitOrderRequest(
        partner_reference=order.partner_reference,
        priority=order.priority.value,
        request_id=key,
        lines=[
            ords.OrderLine(
                line_number=number,
                style_code=line.style_code,
                alloy_code=line.alloy_code,
                size=line.size,
                engraving=line.engraving,
                quantity=line.quantity,
            )
            for number, line in enumerate(order.lines, start=1)
        ],
    )
    due = order.due_time if order.due_time.tzinfo else order.due_time.replace(tzinfo=UTC)
    request.due_time.FromDatetime(due)
    return request


def partner_of(context: RequestContext) -> str:
    """The caller's partner (``FORBIDDEN`` for anyone else: the partner schema only ever runs for partners)."""
    partner = context.partner
    if partner is None:
        raise FacadeError(ErrorCode.FORBIDDEN, "This operation is for partners.")
    return partner


def _partner(info: Info) -> str:
    return partner_of(info.context)


def own_orders_request(partner: str, statuses: Sequence[OrderStatus] | None, late_only: bool) -> ords.ListOrdersRequest:
    statuses_pb = [s.value for s in statuses or []]
    return ords.ListOrdersRequest(parent=f"partners/{partner}", statuses=statuses_pb, late_only=late_only)


def open_position(context: RequestContext, partner: str, position: str | None) -> int | None:
    """The stream sequence sealed in a partner's ``since`` (``INVALID_ARGUMENT`` when it is not one
    of the partner's positions)."""
    if position is None:
        return None
    try:
        return context.positions.open(partner, position)
    except InvalidPosition as exc:
        raise FacadeError(
            ErrorCode.INVALID_ARGUMENT,
            f"`since` {exc}.",
            extensions={"fieldViolations": [{"field": "since", "description": str(exc)}]},
        ) from None


@strawberry.type(name="AsOf", description="Where your data stands in your stream of events.")
class PartnerAsOf:
    position: str = strawberry.field(
        description="Opaque, valid for you only: what this response reflects at least. Subscribe to "
        "`orderStatusChanged(since:)` with it to get every later change (some already reflected may "
        "come again: compare `orderVersion`)."
    )
    at: datetime


def partner_as_of(context: RequestContext) -> tuple[str, datetime]:
    """The partner's position when the request started, sealed, and the request's start time."""
    partner = partner_of(context)
    seq = context.partner_position
    if seq is None:
        seq = context.hub.partner_position(partner)
    return context.positions.seal(partner, seq), context.started_at


@strawberry.type(name="Query")
class PartnerQuery(PartnerWebhookQuery):
    @field(description="Your position in your stream of events, as of this response.")
    def as_of(self, info: Info) -> PartnerAsOf:
        position, at = partner_as_of(info.context)
        return PartnerAsOf(position=position, at=at)

    @field(description="One of your orders (null when it does not exist).")
    async def order(self, info: Info, id: strawberry.ID) -> PartnerOrder | None:
        found = await info.context.loaders.order.load(check_id(str(id)))
        return PartnerOrder.from_pb(found) if found is not None else None

    @field(description="Your orders, newest first.")
    async def orders(
        self, info: Info, first: int, after: str | None = None, filter: PartnerOrderFilter | None = None
    ) -> Connection[PartnerOrder]:
        partner = _partner(info)
        flt = filter or PartnerOrderFilter()
        request = own_orders_request(partner, flt.statuses, flt.late_only)
        call = functools.partial(info.context.backend.orders.list_orders, partner=partner)
        return await list_connection(call, request, lambda page: page.orders, PartnerOrder.from_pb, first, after)

    @field(description="Styles you can order.")
    async def styles(self, info: Info, first: int, after: str | None = None) -> Connection[Style]:
        return await styles_page(info, first, after)

    @field(description="Alloys you can order.")
    async def alloys(self, info: Info, first: int, after: str | None = None) -> Connection[Alloy]:
        return await alloys_page(info, first, after)


@strawberry.type(name="Mutation")
class PartnerMutation(PartnerWebhookMutation):
    @mutation(
        description="Submit an order. Retrying with the same idempotencyKey and input returns the same order; "
        "the same key with another input fails with IDEMPOTENCY_KEY_REUSED."
    )
    async def submit_order(self, info: Info, input: SubmitOrderInput, idempotency_key: str) -> SubmitOrderPayload:
        partner = _partner(info)
        key = check_key(idempotency_key)
        if not key:
            raise FacadeError(
                ErrorCode.INVALID_ARGUMENT,
                "`idempotencyKey` is required.",
                extensions={"fieldViolations": [{"field": "idempotencyKey", "description": "is required"}]},
            )
        response = await info.context.backend.orders.submit_order(_submit_request(input, key), partner=partner)
        return SubmitOrderPayload(order=PartnerOrder.from_pb(response.order), replayed=response.replayed)

    @mutation(description="Cancel one of your orders that has not shipped.")
    async def cancel_order(
        self, info: Info, id: strawberry.ID, reason: str = "", idempotency_key: str | None = None
    ) -> PartnerOrder:
        partner = _partner(info)
        request = ords.CancelOrderRequest(
            name=f"orders/{check_id(str(id))}", reason=reason, request_id=check_key(idempotency_key)
        )
        return PartnerOrder.from_pb(await info.context.backend.orders.cancel_order(request, partner=partner))


@strawberry.type(name="Subscription")
class PartnerSubscription:
    @subscription(
        description="Status changes of your orders; `since` (a `position` of an event, of ResyncRequired "
        "or of `asOf`) resumes after it."
    )
    async def order_status_changed(
        self, info: Info, order_ids: list[strawberry.ID] | None = None, since: str | None = None
    ) -> AsyncGenerator[PartnerStatusUpdate, None]:
        partner = _partner(info)
        context = info.context
        async for event in status_updates(
            context,
            order_ids=[str(i) for i in order_ids] if order_ids else None,
            partner_id=None,
            statuses=None,
            since=open_position(context, partner, since),
        ):
            yield partner_event(event, partner, context)
