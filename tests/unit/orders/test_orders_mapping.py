"""The codec (no I/O): gRPC requests into commands and queries, domain events into the
registered event messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts import events
from mes_kernel.errors import InvalidArgument
from mes_kernel.paging import PageRequest
from mes_kernel.principal import Principal
from services.orders.domain.catalogue import CatalogueKind
from services.orders.domain.events import OrderSubmitted, status_events
from services.orders.domain.order import Order, OrderLine, Priority
from services.orders.domain.status import OrderStatus
from services.orders.entrypoints.codec.messages import encode_event
from services.orders.entrypoints.codec.requests import list_catalogue_items, list_orders, order_statuses, submit_order

CALLER = Principal("partner", "acme", "acme")


def request(**fields: object) -> orders_pb2.SubmitOrderRequest:
    values: dict[str, object] = {"partner_reference": "PO-1", "request_id": "r-1", **fields}
    message = orders_pb2.SubmitOrderRequest(
        lines=[orders_pb2.OrderLine(style_code="RNG-1", alloy_code="AU750Y", quantity=1)],
        **values,  # type: ignore[arg-type]
    )
    message.due_time.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC))
    return message


def test_submit_fingerprint_ignores_request_id_and_parent_only() -> None:
    base = submit_order(request(), CALLER)
    assert submit_order(request(parent="partners/acme", request_id="other"), CALLER).fingerprint == base.fingerprint
    assert submit_order(request(priority=3), CALLER).fingerprint != base.fingerprint
    assert base.due_time == datetime(2030, 1, 1, tzinfo=UTC)
    assert base.principal == CALLER


def test_missing_or_absurd_due_time() -> None:
    missing = request()
    missing.ClearField("due_time")
    assert submit_order(missing, CALLER).due_time is None
    absurd = request()
    absurd.due_time.seconds = -(10**12)
    due = submit_order(absurd, CALLER).due_time
    assert due is not None and due.year == 1


def test_status_filters_and_catalogue_kinds() -> None:
    assert order_statuses([orders_pb2.ORDER_STATUS_ON_HOLD]) == (OrderStatus.ON_HOLD,)
    with pytest.raises(InvalidArgument) as raised:
        order_statuses([orders_pb2.ORDER_STATUS_SHIPPED, 0, 99])
    assert [v.field for v in raised.value.violations] == ["statuses[1]", "statuses[2]"]
    listing = list_orders(
        orders_pb2.ListOrdersRequest(page_size=3, page_token="t", statuses=[orders_pb2.ORDER_STATUS_ON_HOLD]), CALLER
    )
    assert (listing.page, listing.statuses) == (PageRequest(3, "t"), (OrderStatus.ON_HOLD,))
    assert list_catalogue_items(orders_pb2.ListCatalogueItemsRequest(kind=0), CALLER).kind is None
    styles = orders_pb2.ListCatalogueItemsRequest(kind=orders_pb2.CATALOGUE_ITEM_KIND_STYLE)
    assert list_catalogue_items(styles, CALLER).kind is CatalogueKind.STYLE
    with pytest.raises(InvalidArgument):
        list_catalogue_items(orders_pb2.ListCatalogueItemsRequest(kind=5), CALLER)  # type: ignore[arg-type]


def test_domain_events_encode_as_the_registered_messages() -> None:
    order = Order.submit(
        order_id="o-1",
        partner_id="acme",
        partner_reference="PO-1",
        priority=Priority.RUSH,
        due_time=datetime(2030, 1, 8, tzinfo=UTC),
        lines=[OrderLine(1, "RNG-1", "AU750Y", 1)],
        cause="request:r-1",
        now=datetime(2030, 1, 1, tzinfo=UTC),
    )
    event_type, message = encode_event(OrderSubmitted(order))
    assert event_type is events.ORDER_SUBMITTED
    assert isinstance(message, orders_events_pb2.OrderSubmittedEvent)
    assert (message.order.name, message.order.partner, message.order.late) == ("orders/o-1", "partners/acme", False)

    change = order.transition(OrderStatus.CANCELLED, reason="withdrawn", cause="partner:acme", now=order.create_time)
    encoded = [encode_event(e) for e in status_events(order, change)]
    assert [t for t, _ in encoded] == [events.ORDER_STATUS_CHANGED, events.ORDER_CANCELLED]
    changed, cancelled = (m for _, m in encoded)
    assert changed == orders_events_pb2.OrderStatusChangedEvent(
        order_id="o-1",
        partner_id="acme",
        from_status=orders_pb2.ORDER_STATUS_SUBMITTED,
        to_status=orders_pb2.ORDER_STATUS_CANCELLED,
        reason="withdrawn",
        order_version=2,
        priority=common_pb2.PRIORITY_RUSH,
    )
    assert cancelled == orders_events_pb2.OrderCancelledEvent(
        order_id="o-1", partner_id="acme", previous_status=orders_pb2.ORDER_STATUS_SUBMITTED, reason="withdrawn"
    )
    with pytest.raises(TypeError):
        encode_event(object())
