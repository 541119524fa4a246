"""Decoding gRPC requests into commands (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mes.orders.v1 import orders_pb2
from mes_kernel.errors import InvalidArgument
from services.orders.domain.status import OrderStatus
from services.orders.entrypoints.mapping import catalogue_kind, order_statuses, submit_command


def request(**fields: object) -> orders_pb2.SubmitOrderRequest:
    values: dict[str, object] = {"partner_reference": "PO-1", "request_id": "r-1", **fields}
    message = orders_pb2.SubmitOrderRequest(
        lines=[orders_pb2.OrderLine(style_code="RNG-1", alloy_code="AU750Y", quantity=1)],
        **values,  # type: ignore[arg-type]
    )
    message.due_time.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC))
    return message


def test_submit_fingerprint_ignores_request_id_and_parent_only() -> None:
    base = submit_command(request())
    assert submit_command(request(parent="partners/acme", request_id="other")).fingerprint == base.fingerprint
    assert submit_command(request(priority=3)).fingerprint != base.fingerprint
    assert base.due_time == datetime(2030, 1, 1, tzinfo=UTC)


def test_missing_or_absurd_due_time() -> None:
    missing = request()
    missing.ClearField("due_time")
    assert submit_command(missing).due_time is None
    absurd = request()
    absurd.due_time.seconds = -(10**12)
    due = submit_command(absurd).due_time
    assert due is not None and due.year == 1


def test_status_filters_and_catalogue_kinds() -> None:
    assert order_statuses([orders_pb2.ORDER_STATUS_ON_HOLD]) == (OrderStatus.ON_HOLD,)
    with pytest.raises(InvalidArgument) as raised:
        order_statuses([orders_pb2.ORDER_STATUS_SHIPPED, 0, 99])
    assert [v.field for v in raised.value.violations] == ["statuses[1]", "statuses[2]"]
    assert catalogue_kind(0) is None
    with pytest.raises(InvalidArgument):
        catalogue_kind(5)
