"""mesctl's text: weights, times, labels and the tables of each resource (no I/O); the table
and details layout itself is tested with ``mes_kernel.text``."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from clients.cli._app import Output
from clients.cli._bulk import BulkSummary, Failure, ProgressBar
from clients.cli._render import grams, label, weight, when
from clients.cli.inventory import balance_table, lot_details
from clients.cli.orders import order_details, order_table
from clients.cli.production_floor import operation_details
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_pb2


def test_grams_use_integer_arithmetic_with_three_decimals() -> None:
    assert [grams(v) for v in (0, 1, 999, 1000, 12345, -1500, 100_000_000)] == [
        "0.000",
        "0.001",
        "0.999",
        "1.000",
        "12.345",
        "-1.500",
        "100000.000",
    ]
    assert weight(12345) == "12.345 g (12345 mg)"


def test_when_and_label() -> None:
    stamp = Timestamp()
    assert when(stamp) == "-"
    stamp.FromDatetime(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert when(stamp) == "2030-01-02 03:04:05Z"
    assert label(orders_pb2.OrderStatus, orders_pb2.ORDER_STATUS_READY_TO_SHIP) == "READY_TO_SHIP"
    assert label(common_pb2.Priority, 99) == "99"


def _order() -> orders_pb2.Order:
    order = orders_pb2.Order(
        name="orders/42",
        order_id="42",
        partner="partners/acme",
        partner_reference="PO-9",
        priority=common_pb2.PRIORITY_HIGH,
        status=orders_pb2.ORDER_STATUS_ON_HOLD,
        status_reason="shortage of AU750Y",
        late=True,
        lines=[
            orders_pb2.OrderLine(line_number=1, style_code="RNG-1", alloy_code="AU750Y", quantity=2, size="52"),
            orders_pb2.OrderLine(line_number=2, style_code="PND-2", alloy_code="AG925", quantity=3),
        ],
    )
    order.due_time.FromDatetime(datetime(2030, 1, 2, tzinfo=UTC))
    return order


def test_order_table_and_details() -> None:
    rows = order_table([_order()]).splitlines()
    assert rows[0].split() == ["ID", "PARTNER", "REFERENCE", "STATUS", "PRIORITY", "DUE", "LATE", "PIECES"]
    assert rows[2].split() == ["42", "acme", "PO-9", "ON_HOLD", "HIGH", "2030-01-02", "00:00:00Z", "LATE", "5"]
    text = order_details(_order(), replayed=True)
    assert "status:        ON_HOLD" in text and "replayed:      yes" in text
    assert text.splitlines()[-2].split() == ["1", "RNG-1", "AU750Y", "52", "-", "2"]


def test_inventory_tables_show_grams() -> None:
    lot = inventory_pb2.MaterialLot(
        name="lots/L1", lot_id="L1", kind=common_pb2.MATERIAL_KIND_METAL, material_code="AU750Y", received_mg=250_500
    )
    assert "received:     250.500 g (250500 mg)" in lot_details(lot)
    balance = inventory_pb2.Balance(material_code="AU750Y", kind=1, on_hand_mg=1_000_000, available_mg=999_999)
    row = balance_table([balance]).splitlines()[2].split()
    assert row[:5] == ["AU750Y", "METAL", "1000.000", "0.000", "999.999"]


def test_operation_details_show_loss_and_tolerance() -> None:
    op = production_pb2.Operation(
        name="workOrders/W/operations/2",
        operation_code="FILING",
        status=production_pb2.OPERATION_STATUS_LOSS_REVIEW,
        weigh_in_mg=10_000,
        weigh_out_mg=9_700,
        loss_mg=300,
        loss_tolerance_per_mille=20,
    )
    text = operation_details(op)
    assert "LOSS_REVIEW" in text and "0.300 g (300 mg)" in text and "20 ‰ = 0.200 g (200 mg)" in text


def test_json_output_uses_proto_field_names() -> None:
    out = Output(format="json", stdout=io.StringIO())
    out.emit([_order()], lambda: "unused")
    text = out.stdout.getvalue()  # type: ignore[attr-defined]
    assert '"partner_reference": "PO-9"' in text and '"status": "ORDER_STATUS_ON_HOLD"' in text


def test_progress_bar_and_summary_text() -> None:
    summary = BulkSummary(total=4, submitted=2, replayed=1)
    stream = io.StringIO()
    bar = ProgressBar(4, stream, width=8)
    assert bar.line(summary) == "[######..] 3/4  75%  submitted 2  replayed 1  failed 0"
    bar.update(summary)
    summary.failures.append(Failure(4, "R4", "INVALID_ARGUMENT UNKNOWN_STYLE: no such style", "X", "Y"))
    bar.update(summary, final=True)
    assert stream.getvalue().splitlines()[-1].startswith("[########] 4/4 100%")
    assert summary.render().splitlines() == [
        "submitted: 2  replayed: 1  failed: 1",
        "  row 4 (R4): INVALID_ARGUMENT UNKNOWN_STYLE: no such style",
    ]
    quiet = io.StringIO()
    ProgressBar(4, quiet, enabled=False).update(summary, final=True)
    assert quiet.getvalue() == ""
