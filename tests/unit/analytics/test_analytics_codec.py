"""Events -> facts (what an operation's change says of its ready time and its time in progress, a
return's holder, usage minutes) and requests -> queries (windows, imported facts), with every bad
field reported."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from mes.analytics.v1 import analytics_pb2 as apb
from mes.common.v1 import common_pb2
from mes.facade.v1 import usage_events_pb2 as fac
from mes.inventory.v1 import inventory_events_pb2 as inv
from mes.inventory.v1 import inventory_pb2
from mes.orders.v1 import orders_events_pb2 as ords
from mes.orders.v1 import orders_pb2
from mes.production.v1 import production_events_pb2 as prod
from mes.production.v1 import production_pb2 as ppb
from mes_kernel.errors import InvalidArgument
from mes_kernel.principal import Principal
from services.analytics.domain.facts import CustodyKind, OperationStatus
from services.analytics.domain.timeline import Grain
from services.analytics.entrypoints.codec import consumed, requests

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
STAFF = Principal("service", "test")


def ts(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def meta(at: datetime) -> common_pb2.EventMeta:
    return common_pb2.EventMeta(event_id="e1", occur_time=ts(at))


def op_event(status: str, previous: str, at: datetime, **fields: object) -> prod.OperationChangedEvent:
    operation = ppb.Operation(
        name="workOrders/w1/operations/2",
        work_order_id="w1",
        order_id="o1",
        operation_code="CAST",
        work_center="workCenters/CAST-1",
        alloy_code="AU750Y",
        status=ppb.OperationStatus.Value(f"OPERATION_STATUS_{status}"),
        version=4,
        **fields,  # type: ignore[arg-type]
    )
    return prod.OperationChangedEvent(
        meta=meta(at), operation=operation, from_status=ppb.OperationStatus.Value(f"OPERATION_STATUS_{previous}")
    )


def test_analytics_an_operation_entering_ready_carries_its_ready_time() -> None:
    (snapshot,) = consumed.operation_changed(op_event("QUEUED", "PENDING", T0), NOW).operations
    assert (snapshot.status, snapshot.ready_at, snapshot.work_center, snapshot.version) == (
        OperationStatus.READY, T0, "CAST-1", 4
    )  # fmt: skip
    (started,) = consumed.operation_changed(op_event("IN_PROGRESS", "QUEUED", T0, start_time=ts(T0)), NOW).operations
    assert started.ready_at is None
    assert started.stop_at is None  # in progress: its time runs until now


def test_analytics_an_operation_time_in_progress_ends_at_finish_pause_or_cancellation() -> None:
    done = op_event("DONE", "IN_PROGRESS", NOW, start_time=ts(T0), finish_time=ts(NOW), weigh_in_mg=1000,
                    weigh_out_mg=900, scrap_returned_mg=40, loss_tolerance_per_mille=50)  # fmt: skip
    (finished,) = consumed.operation_changed(done, NOW).operations
    assert (finished.status, finished.stop_at, finished.loss_mg, finished.allowed_mg, finished.excess_mg) == (
        OperationStatus.FINISHED, NOW, 60, 50, 10
    )  # fmt: skip
    assert finished.over_tolerance
    paused = op_event("PAUSED", "IN_PROGRESS", NOW, start_time=ts(T0), pause_time=ts(T0.replace(hour=9)))
    assert consumed.operation_changed(paused, NOW).operations[0].stop_at == T0.replace(hour=9)
    cancelled = op_event("CANCELLED", "IN_PROGRESS", NOW, start_time=ts(T0))
    assert consumed.operation_changed(cancelled, NOW).operations[0].stop_at == NOW
    never_started = op_event("CANCELLED", "QUEUED", NOW)
    assert consumed.operation_changed(never_started, NOW).operations[0].stop_at is None


def test_analytics_a_return_counts_for_the_holder_it_came_from() -> None:
    entry = inventory_pb2.CustodyEntry(
        entry_id="c1", kind=inventory_pb2.CUSTODY_KIND_RETURN, holder="stores", reference="orders/o1",
        material_code="AU750Y", weight_mg=300, create_time=ts(T0),
    )  # fmt: skip
    (move,) = consumed.custody_recorded(inv.CustodyRecordedEvent(meta=meta(NOW), entry=entry), NOW).custody
    assert (move.kind, move.holder, move.party, move.at) == (CustodyKind.RETURN, "stores", "orders/o1", T0)


def test_analytics_orders_times_come_from_the_events() -> None:
    order = orders_pb2.Order(
        order_id="o1", partner="partners/acme", create_time=ts(T0), due_time=ts(NOW),
        lines=[orders_pb2.OrderLine(line_number=1, style_code="R", alloy_code="AU750Y", quantity=3)],
    )  # fmt: skip
    (record,) = consumed.order_submitted(ords.OrderSubmittedEvent(meta=meta(NOW), order=order), NOW).orders
    assert (record.partner_id, record.submit_at, record.due_at, record.pieces) == ("acme", T0, NOW, 3)
    shipped = ords.OrderStatusChangedEvent(
        meta=meta(NOW), order_id="o1", partner_id="acme", to_status=orders_pb2.ORDER_STATUS_SHIPPED
    )
    assert consumed.order_status_changed(shipped, NOW).orders[0].ship_at == NOW
    accepted = ords.OrderStatusChangedEvent(meta=meta(NOW), order_id="o1", to_status=orders_pb2.ORDER_STATUS_ACCEPTED)
    assert consumed.order_status_changed(accepted, NOW).orders == ()
    cancelled = ords.OrderCancelledEvent(
        meta=meta(NOW), order_id="o1", partner_id="acme", previous_status=orders_pb2.ORDER_STATUS_IN_PRODUCTION
    )
    assert consumed.order_cancelled(cancelled, NOW).orders[0].cancelled_after_release is True


def test_analytics_usage_minutes_keep_operations_and_error_codes() -> None:
    event = fac.PartnerUsageRecordedEvent(
        meta=meta(NOW), partner_id="acme", minute_start=ts(T0), instance="r1", requests=4,
        latency_bucket_counts=[1, 3], latency_bucket_bounds_ms=[10.0],
        operations=[fac.OperationUsage(operation="", requests=4, errors=1, latency_bucket_counts=[1, 3])],
        error_codes=[fac.ErrorCodeCount(code="THROTTLED", count=1)], submissions=2, replays=1,
    )  # fmt: skip
    (minute,) = consumed.usage_recorded(event, NOW).usage
    assert (minute.minute_start, minute.latency_counts, minute.latency_bounds_ms) == (T0, (1, 3), (10.0,))
    assert minute.operations[0].operation == "other"
    assert (minute.error_codes, minute.submissions, minute.replays) == ((("THROTTLED", 1),), 2, 1)


def test_analytics_windows_default_to_days_and_refuse_unknown_grains() -> None:
    window = apb.Window(from_time=ts(T0), to_time=ts(NOW))
    query = requests.flow_query(apb.GetFlowAnalyticsRequest(window=window), STAFF)
    assert (query.window.start, query.window.end, query.window.grain) == (T0, NOW, Grain.DAY)
    with pytest.raises(InvalidArgument) as caught:
        requests.flow_query(apb.GetFlowAnalyticsRequest(window=apb.Window(grain=9)), STAFF)  # type: ignore[arg-type]
    assert [v.field for v in caught.value.violations] == ["window.grain"]


def test_analytics_imported_facts_report_every_bad_field() -> None:
    request = apb.ImportFactsRequest(
        orders=[apb.OrderFact(order_id="", partner_id="partners/acme", lines=[apb.OrderLineFact(quantity=0)])],
        operations=[apb.OperationFact(name="operations/1", status="WAITING", weigh_in_mg=-1)],
    )
    with pytest.raises(InvalidArgument) as caught:
        requests.import_facts(request, STAFF)
    assert [v.field for v in caught.value.violations] == [
        "orders[0].order_id",
        "orders[0].submit_time",
        "orders[0].lines[0].quantity",
        "orders[0].lines[0].style_code",
        "orders[0].lines[0].alloy_code",
        "operations[0].name",
        "operations[0].status",
        "operations[0].weigh_in_mg",
    ]


def test_analytics_imported_operations_are_version_0_and_name_their_work_order() -> None:
    fact = apb.OperationFact(
        name="workOrders/hist-1-1/operations/2", order_id="hist-1", status="DONE", work_center="workCenters/FILE-1",
        ready_time=ts(T0), start_time=ts(T0), finish_time=ts(NOW), release_time=ts(T0),
    )  # fmt: skip
    command = requests.import_facts(apb.ImportFactsRequest(operations=[fact]), STAFF)
    (op,) = command.operations
    assert (op.work_order_id, op.status, op.version, op.imported, op.work_center) == (
        "hist-1-1", OperationStatus.FINISHED, 0, True, "FILE-1"
    )  # fmt: skip
    assert (op.ready_at, op.stop_at, op.release_at) == (T0, NOW, T0)
