"""What a cached answer reads and what each event touches: narrow invalidation of the response cache."""

from __future__ import annotations

from typing import Any

import pytest

from graphql_facade.response_cache import touches
from graphql_facade.response_cache.tags import TOUCHES
from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_events_pb2 as inv_ev
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_events_pb2 as ord_ev
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_events_pb2 as prod_ev
from mes.production.v1 import production_pb2 as prod
from mes_contracts import events
from tests.unit.graphql_facade.cache_tags import reads, touched

BOARD = """query Board($first: Int!, $filter: OrderFilter) { orders(first: $first, filter: $filter) {
  nodes { id partnerId status lines { styleCode style { displayName } } workOrders { id status } } } }"""


def board_data(*order_ids: str) -> dict[str, Any]:
    line = {"styleCode": "RNG-1", "style": {"displayName": "Ring"}}
    nodes = [{"id": i, "partnerId": "p1", "status": "SUBMITTED", "lines": [line], "workOrders": []} for i in order_ids]
    return {"orders": {"nodes": nodes}}


def status_changed(order_id: str, partner: str, before: int, after: int) -> set[str]:
    message = ord_ev.OrderStatusChangedEvent(order_id=order_id, partner_id=partner, from_status=before, to_status=after)
    return touched(events.ORDER_STATUS_CHANGED, message)


def test_the_board_reads_its_lists_its_orders_and_their_production() -> None:
    found = reads(BOARD, board_data("o1", "o2"), {"first": 2})
    assert found == {"o:*:*", "order:o1", "order:o2", "prod:o1", "prod:o2", "style:*"}


def test_filters_narrow_the_lists_read() -> None:
    variables = {"first": 5, "filter": {"partnerId": "p1", "statuses": ["SUBMITTED", "ON_HOLD"]}}
    found = reads(BOARD, board_data(), variables)
    assert found == {"o:p1:SUBMITTED", "o:p1:ON_HOLD"}  # no order shown yet: no style shown either
    assert reads('{ orderCounts(partnerId: "p2") { total } }', {"orderCounts": {"total": 3}}) == {"o:p2:*"}


def test_an_event_of_one_order_touches_the_boards_that_can_show_it_and_no_other_answer() -> None:
    touched_tags = status_changed("o9", "p1", ords.ORDER_STATUS_SUBMITTED, ords.ORDER_STATUS_ACCEPTED)
    filtered = {"first": 5, "filter": {"statuses": ["SHIPPED"]}}
    other_partner = {"first": 5, "filter": {"partnerId": "p2"}}
    answers = {
        "all orders": (reads(BOARD, board_data("o1"), {"first": 5}), True),
        "p1's submitted": (reads(BOARD, board_data(), {"first": 5, "filter": {"statuses": ["SUBMITTED"]}}), True),
        "shipped only": (reads(BOARD, board_data("o1"), filtered), False),
        "another partner's board": (reads(BOARD, board_data("o1"), other_partner), False),
        "another order's detail": (reads('{ order(id: "o1") { status } }', {"order": {"status": "SUBMITTED"}}), False),
        "the detail of o9": (reads('{ order(id: "o9") { status } }', {"order": {"status": "SUBMITTED"}}), True),
        "styles": (reads("{ styles(first: 5) { nodes { sku } } }", {"styles": {"nodes": []}}), False),
        "work centers": (reads("{ workCenters(first: 5) { nodes { code } } }", {"workCenters": {"nodes": []}}), False),
        "partner p2's orders": (
            reads("{ orders(first: 5) { nodes { id } } }", {"orders": {"nodes": []}}, partner="p2"),
            False,
        ),
    }
    for name, (read, expected) in answers.items():
        assert bool(read & touched_tags) is expected, name


def test_production_events_touch_the_orders_they_belong_to_and_their_work_center() -> None:
    operation = prod.Operation(order_id="o1", work_order_id="w1", sequence=2, work_center="workCenters/POL-1")
    tags = touched(events.OPERATION_CHANGED, prod_ev.OperationChangedEvent(operation=operation))
    assert {"prod:o1", "prod:*", "wc:POL-1", "wc:*"} <= tags and "prod:o2" not in tags
    assert reads(BOARD, board_data("o1"), {"first": 1}) & tags
    assert not reads(BOARD, board_data("o2"), {"first": 1}) & tags
    only_status = "{ orders(first: 5) { nodes { id status } } }"  # no work orders asked: not touched
    assert not reads(only_status, {"orders": {"nodes": [{"id": "o1", "status": "IN_PRODUCTION"}]}}) & tags
    center = '{ workCenter(id: "CAST-1") { stats { queued } } }'
    assert not reads(center, {"workCenter": {"stats": {"queued": 1}}}) & tags
    assert reads(center.replace("CAST-1", "POL-1"), {"workCenter": {"stats": {"queued": 1}}}) & tags


def test_reservation_events_touch_only_answers_showing_reservations_or_inventory() -> None:
    tags = touched(events.RESERVATION_HELD, inv_ev.ReservationHeldEvent(order_id="o1"))
    with_reservations = "{ orders(first: 5) { nodes { id reservations { state } } } }"
    data = {"orders": {"nodes": [{"id": "o1", "reservations": []}]}}
    assert reads(with_reservations, data) & tags
    assert not reads(BOARD, board_data("o1"), {"first": 1}) & tags
    assert reads("{ shortages(first: 5) { nodes { orderId } } }", {"shortages": {"nodes": []}}) & tags


def test_a_cancelled_order_also_touches_inventory_answers() -> None:
    tags = touched(
        events.ORDER_CANCELLED,
        ord_ev.OrderCancelledEvent(order_id="o1", partner_id="p1", previous_status=ords.ORDER_STATUS_ON_HOLD),
    )
    assert {"o:p1:ON_HOLD", "o:*:CANCELLED", "inv:*", "order:o1"} <= tags


def test_catalogue_events_touch_the_catalogue_only() -> None:
    style = touched(events.STYLE_UPSERTED, prod_ev.StyleUpsertedEvent(style=prod.Style(sku="RNG-1")))
    alloy = touched(events.ALLOY_UPSERTED, inv_ev.AlloyUpsertedEvent(alloy=inv.Alloy(code="AU750Y")))
    assert reads(BOARD, board_data("o1"), {"first": 1}) & style  # the board shows style names
    assert not reads(BOARD, board_data("o1"), {"first": 1}) & alloy
    assert not reads('{ order(id: "o1") { status } }', {"order": None}) & (style | alloy)


def test_every_event_type_has_a_rule_and_an_unreadable_event_touches_everything() -> None:
    assert set(TOUCHES) == set(events.ALL_EVENTS)
    assert touches("orders.order.unknown", b"") is None
    assert touches(events.ORDER_STATUS_CHANGED.subject, b"\xff\xff") is None
    assert touches(events.ORDER_STATUS_CHANGED.subject, b"") is None  # no order id: cannot be narrowed


def test_lot_and_custody_events_touch_inventory_wide_answers() -> None:
    lot = touched(events.LOT_RECEIVED, inv_ev.LotReceivedEvent(lot=inv.MaterialLot(material_code="AU750Y")))
    custody = touched(events.CUSTODY_RECORDED, inv_ev.CustodyRecordedEvent(entry=inv.CustodyEntry(entry_id="c1")))
    balances = reads("{ alloyBalances(first: 5) { nodes { materialCode } } }", {"alloyBalances": {"nodes": []}})
    assert balances & lot and balances & custody
    assert not reads(BOARD, board_data("o1"), {"first": 1}) & (lot | custody)


@pytest.mark.parametrize(
    ("query", "data"),
    [
        ("{ asOf { seq } }", {"asOf": {"seq": 1}}),
        ("{ orders(first: 5) { nodes { status } } }", {"orders": {"nodes": [{"status": "SUBMITTED"}]}}),
        ("{ orders(first: 5) { nodes { id } } }", {"orders": {"nodes": [{"id": ["not", "an", "id"]}]}}),
        ("{ orders(first: 5) { nodes { id } } }", {"orders": "not an object"}),
    ],
)
def test_what_the_table_cannot_narrow_reads_everything(query: str, data: Any) -> None:
    assert reads(query, data) == {"*"}


def test_fragments_aliases_and_directives_are_followed() -> None:
    query = """query($skip: Boolean!) { board: orders(first: 5) { nodes { ...o } } }
      fragment o on Order {
        key: id jobs: workOrders @skip(if: $skip) { id } reservations @include(if: false) { id } }"""
    data = {"board": {"nodes": [{"key": "o1", "jobs": []}]}}
    assert reads(query, data, {"skip": False}) == {"o:*:*", "order:o1", "prod:o1"}
    assert reads(query, {"board": {"nodes": [{"key": "o1"}]}}, {"skip": True}) == {"o:*:*", "order:o1"}


def test_a_partners_answers_read_their_own_lists_whatever_they_ask() -> None:
    query = "{ orders(first: 5, filter: {statuses: [SHIPPED]}) { nodes { id statusHistory { toStatus } } } }"
    found = reads(query, {"orders": {"nodes": [{"id": "o1", "statusHistory": []}]}}, partner="p7")
    assert found == {"o:p7:SHIPPED", "order:o1"}


def test_queues_read_their_work_center_and_the_orders_of_their_operations() -> None:
    query = """{ workCenter(id: "POL-1") { code queue(first: 5) { nodes { id orderId workOrder { status } } } } }"""
    data = {"workCenter": {"code": "POL-1", "queue": {"nodes": [{"id": "w1.1", "orderId": "o3", "workOrder": {}}]}}}
    assert reads(query, data) == {"wc:POL-1", "wc:?", "prod:o3"}
    everywhere = "{ workCenters(first: 5) { nodes { stats { wip } } } }"
    assert reads(everywhere, {"workCenters": {"nodes": [{"stats": {"wip": 1}}]}}) == {"wc:*"}


def test_detail_of_an_order_reads_it_even_when_it_does_not_exist_yet() -> None:
    query = '{ order(id: "o5") { id workOrders { operations { status workCenter { code } } } reservations { id } } }'
    assert reads(query, {"order": None}) == {"order:o5"}
    data = {"order": {"id": "o5", "workOrders": [{"operations": [{"status": "DONE", "workCenter": {"code": "X"}}]}]}}
    data["order"]["reservations"] = []
    assert reads(query, data) == {"order:o5", "prod:o5", "inv:o5"}


def test_order_counts_and_work_orders_status_events() -> None:
    counts = reads("{ orderCounts { total late } }", {"orderCounts": {"total": 1, "late": 0}})
    assert counts == {"o:*:*"}
    assert counts & status_changed("o1", "p1", ords.ORDER_STATUS_ACCEPTED, ords.ORDER_STATUS_IN_PRODUCTION)
    released = touched(events.WORK_ORDERS_RELEASED, prod_ev.WorkOrdersReleasedEvent(order_id="o1"))
    assert not counts & released
    assert {"prod:o1", "wc:?", "wc:*"} <= released
    requirement = common_pb2.MaterialRequirement()
    computed = prod_ev.RequirementsComputedEvent(order_id="o1", requirements=[requirement])
    assert touched(events.REQUIREMENTS_COMPUTED, computed) >= {"prod:o1"}
