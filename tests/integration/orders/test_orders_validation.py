"""Bad input answers INVALID_ARGUMENT with every bad field named, and writes nothing."""

from __future__ import annotations

from typing import Any

import grpc

from mes.orders.v1 import orders_pb2
from services.orders.adapters.tables import infra
from services.orders.bootstrap import App
from services.orders.domain.catalogue import CatalogueKind
from tests._infra.rpc import fails
from tests.integration.orders._support import SQLITE_ONLY, STAFF, T, count_rows, for_partner, line, submit_request

CASES = {
    "zero quantity": (submit_request(lines=[line(quantity=0)]), ["lines[0].quantity"], "INVALID_ARGUMENT"),
    "too many": (submit_request(lines=[line()] * 251), ["lines"], "INVALID_ARGUMENT"),
    "no lines": (submit_request(lines=[]), ["lines"], "INVALID_ARGUMENT"),
    "oversize strings": (
        submit_request(reference="R" * 65, lines=[line(size="5" * 17, engraving="x" * 41)]),
        ["partner_reference", "lines[0].size", "lines[0].engraving"],
        "INVALID_ARGUMENT",
    ),
    "control characters": (submit_request(lines=[line(engraving="a\nb")]), ["lines[0].engraving"], "INVALID_ARGUMENT"),
    "line numbers": (
        submit_request(lines=[line(line_number=1), line(line_number=3)]),
        ["lines[1].line_number"],
        "INVALID_ARGUMENT",
    ),
    "malformed codes": (
        submit_request(lines=[line("ring 1", "")]),
        ["lines[0].style_code", "lines[0].alloy_code"],
        "INVALID_ARGUMENT",
    ),
    "unknown style": (
        submit_request(lines=[line(), line(), line("NO-SUCH-STYLE", "NO-SUCH-ALLOY")]),
        ["lines[2].style_code", "lines[2].alloy_code"],
        "UNKNOWN_STYLE",
    ),
    "unknown alloy": (submit_request(lines=[line(alloy="PT950")]), ["lines[0].alloy_code"], "UNKNOWN_ALLOY"),
    "inactive style": (submit_request(lines=[line("OLD-STYLE")]), ["lines[0].style_code"], "UNKNOWN_STYLE"),
    "priority": (submit_request(priority=9), ["priority"], "INVALID_ARGUMENT"),
    "reference and request id": (
        submit_request(" " * 65, reference=" "),
        ["request_id", "partner_reference"],
        "INVALID_ARGUMENT",
    ),
    "malformed parent": (submit_request(parent="partner/acme"), ["parent"], "INVALID_ARGUMENT"),
}


def _without_due_time() -> orders_pb2.SubmitOrderRequest:
    request = submit_request()
    request.ClearField("due_time")
    return request


CASES["missing due time"] = (_without_due_time(), ["due_time"], "INVALID_ARGUMENT")


async def test_bad_submissions_are_rejected_and_nothing_is_written(
    app: App, stub: Any, partner_keys: dict[str, str]
) -> None:
    await app.handles.event_handlers.apply_catalogue_item(CatalogueKind.STYLE, "OLD-STYLE", "Old", False, 1)
    for case, (request, fields, reason) in CASES.items():
        failure = await fails(stub.SubmitOrder(request, metadata=for_partner("acme"), timeout=T))
        assert (failure.code, failure.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason), case
        assert sorted(failure.fields) == sorted(fields), case
    for table in (infra.outbox, infra.idempotency):
        assert await count_rows(app, table) == 0
    listed = await stub.ListOrders(orders_pb2.ListOrdersRequest(), metadata=STAFF, timeout=T)
    assert not listed.orders


MALFORMED = [
    ("GetOrder", orders_pb2.GetOrderRequest(name="orders/")),
    ("GetOrder", orders_pb2.GetOrderRequest(name="partners/acme")),
    ("GetOrder", orders_pb2.GetOrderRequest(name="orders/a/b")),
    ("CancelOrder", orders_pb2.CancelOrderRequest(name="acme")),
    ("ShipOrder", orders_pb2.ShipOrderRequest(name="")),
    ("ListOrderStatusChanges", orders_pb2.ListOrderStatusChangesRequest(parent="orders/ü")),
    ("ListOrders", orders_pb2.ListOrdersRequest(parent="partners/")),
    ("GetPartner", orders_pb2.GetPartnerRequest(name="partners/a b")),
    ("SetPartnerTier", orders_pb2.SetPartnerTierRequest(name="partner/acme", tier=1)),
]


@SQLITE_ONLY
async def test_malformed_names_are_invalid_arguments(stub: Any) -> None:
    for method, request in MALFORMED:
        failure = await fails(getattr(stub, method)(request, metadata=STAFF, timeout=T))
        assert failure.code == grpc.StatusCode.INVALID_ARGUMENT, (method, request)
        assert failure.fields, (method, request)


@SQLITE_ONLY
async def test_oversize_cancel_reason_is_rejected(stub: Any, partner_keys: dict[str, str]) -> None:
    order = (await stub.SubmitOrder(submit_request(), metadata=for_partner("acme"), timeout=T)).order
    request = orders_pb2.CancelOrderRequest(name=order.name, reason="x" * 501)
    failure = await fails(stub.CancelOrder(request, metadata=STAFF, timeout=T))
    assert (failure.code, failure.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["reason"])
