"""The analytics API over a real gRPC channel, on SQLite and PostgreSQL: facts imported from the
services' stores (idempotently) answer the partner, flow and metal analytics; bad windows, facts
and callers are refused with the right status and field violations; rebuilds run once per request
id and keep the imported facts when asked to."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest

from mes.analytics.v1 import analytics_pb2 as pb
from tests._infra.rpc import fails
from tests.integration.analytics._support import PARTNER, STAFF, T, acting, ts, window

ROME = ZoneInfo("Europe/Rome")


def _anchor() -> datetime:
    """08:00 in Rome ten days ago."""
    day = datetime.now(UTC).astimezone(ROME).date() - timedelta(days=10)
    return datetime.combine(day, time(8), tzinfo=ROME).astimezone(UTC)


def _rome_day(at: datetime) -> datetime:
    return datetime.combine(at.astimezone(ROME).date(), time(0), tzinfo=ROME).astimezone(UTC)


def _facts(anchor: datetime) -> pb.ImportFactsRequest:
    now = datetime.now(UTC)
    orders = []
    for i in range(6):
        submit = anchor + timedelta(hours=i)
        lines = [pb.OrderLineFact(style_code="RNG", alloy_code="AU750Y", quantity=1)]
        if i == 5:
            lines.append(pb.OrderLineFact(style_code="PND", alloy_code="AG925", quantity=2))
        orders.append(
            pb.OrderFact(
                order_id=f"o{i}",
                partner_id=PARTNER,
                submit_time=ts(submit),
                due_time=ts(submit + timedelta(days=1)),
                release_time=ts(submit + timedelta(minutes=5)),
                ship_time=ts(submit + timedelta(hours=10 * (i + 1))),
                lines=lines,
            )
        )
    orders.append(
        pb.OrderFact(
            order_id="b1",
            partner_id="partners/beta",
            submit_time=ts(anchor + timedelta(hours=1)),
            due_time=ts(anchor + timedelta(days=3)),
            cancel_time=ts(anchor + timedelta(hours=3)),
            lines=[pb.OrderLineFact(style_code="EAR", alloy_code="AU750Y", quantity=1)],
        )
    )
    operations = []
    for i in range(5):
        ready = anchor + timedelta(hours=2 + i)
        start = ready + timedelta(minutes=10 * (i + 1))
        operations.append(
            pb.OperationFact(
                name=f"workOrders/wc{i}/operations/1",
                order_id=f"o{i}",
                operation_code="CAST",
                work_center="workCenters/CAST-1",
                alloy_code="AU750Y",
                status="FINISHED",
                ready_time=ts(ready),
                start_time=ts(start),
                finish_time=ts(start + timedelta(minutes=30)),
                weigh_in_mg=10000,
                weigh_out_mg=9800,
                scrap_returned_mg=100,
                loss_tolerance_per_mille=20,
                finished_by="OP-01",
                release_time=ts(anchor),
            )
        )
    for sequence, status in ((1, "IN_PROGRESS"), (2, "READY")):
        operations.append(
            pb.OperationFact(
                name=f"workOrders/wf/operations/{sequence}",
                order_id="o5",
                operation_code="FILE",
                work_center="workCenters/FILE-1",
                alloy_code="AU750Y",
                status=status,
                ready_time=ts(now - timedelta(hours=2)),
                start_time=ts(now - timedelta(hours=1)) if status == "IN_PROGRESS" else None,
                weigh_in_mg=5000 if status == "IN_PROGRESS" else 0,
                release_time=ts(now - timedelta(hours=30)),
            )
        )
    return pb.ImportFactsRequest(orders=orders, operations=operations)


async def _status(stub: Any) -> pb.GetProjectionStatusResponse:
    return await stub.GetProjectionStatus(pb.GetProjectionStatusRequest(), metadata=STAFF, timeout=T)


async def test_analytics_answer_from_imported_facts(stub: Any) -> None:
    anchor = _anchor()
    request = _facts(anchor)
    for _ in range(2):  # a second import merges: nothing is counted twice
        reply = await stub.ImportFacts(request, metadata=STAFF, timeout=T)
        assert (reply.orders, reply.operations) == (7, 7)
    status = await _status(stub)
    assert (status.orders, status.operations, status.imported_orders, status.imported_operations) == (7, 7, 7, 7)
    assert [p.stream for p in status.as_of.positions] == ["ORDERS", "PRODUCTION", "INVENTORY", "FACADE"]

    days = window(anchor - timedelta(days=1), anchor + timedelta(days=5))
    everyone = await stub.GetPartnerAnalytics(pb.GetPartnerAnalyticsRequest(window=days), metadata=STAFF, timeout=T)
    day = ts(_rome_day(anchor))
    assert [(v.partner_id, v.bucket_start, v.orders, v.pieces) for v in everyone.volume] == [
        ("acme", day, 6, 8),
        ("beta", day, 1, 1),
    ]
    assert [(m.dimension, m.key, m.pieces) for m in everyone.mix] == [
        (pb.MIX_DIMENSION_STYLE, "RNG", 6),
        (pb.MIX_DIMENSION_STYLE, "PND", 2),
        (pb.MIX_DIMENSION_STYLE, "EAR", 1),
        (pb.MIX_DIMENSION_ALLOY, "AU750Y", 7),
        (pb.MIX_DIMENSION_ALLOY, "AG925", 2),
    ]
    assert everyone.mix[0].share == pytest.approx(6 / 9)
    (beta,) = [c for c in everyone.cancellation if c.partner_id == "beta"]
    assert (beta.submitted, beta.cancelled, beta.cancelled_before_release, beta.rate, beta.mature) == (
        1,
        1,
        1,
        1.0,
        False,
    )
    leads = {x.partner_id: x for x in everyone.lead_time}
    assert set(leads) == {"", "acme"}
    assert (leads["acme"].n, leads["acme"].has_percentiles) == (6, True)
    assert (leads["acme"].p50_hours, leads["acme"].p85_hours, leads["acme"].p95_hours) == pytest.approx(
        (35, 52.5, 57.5)
    )
    assert [(d.partner_id, d.shipped, d.on_time, d.otd) for d in everyone.delivery] == [
        ("", 6, 3, 0.5),
        ("acme", 6, 3, 0.5),
    ]
    assert {c.partner_id: c.submissions for c in everyone.cadence} == {"acme": 6, "beta": 1}

    own = await stub.GetPartnerAnalytics(
        pb.GetPartnerAnalyticsRequest(window=days), metadata=acting(PARTNER), timeout=T
    )
    assert [v.partner_id for v in own.volume] == ["acme"]
    assert [d.partner_id for d in own.delivery] == ["acme"]

    flow = await stub.GetFlowAnalytics(pb.GetFlowAnalyticsRequest(window=days), metadata=STAFF, timeout=T)
    (cast,) = flow.value_stream
    assert (cast.operation_code, cast.n, cast.has_percentiles) == ("CAST", 5, True)
    assert (cast.queue_p50_min, cast.queue_p85_min, cast.touch_p50_min, cast.touch_p85_min) == pytest.approx(
        (30, 44, 30, 30)
    )
    (filing,) = flow.work_centers
    assert (filing.work_center, filing.wip_operations, filing.wip_gross_mg, filing.queue) == (
        "workCenters/FILE-1",
        2,
        5000,
        1,
    )
    assert 119 < filing.oldest_queue_min < 240 and filing.median_queue_min == filing.oldest_queue_min
    assert [(a.up_to_hours, a.work_orders) for a in flow.wip_aging] == [(24, 0), (72, 1), (168, 0), (0, 0)]
    assert [(b.work_center, b.bucket_start, b.operations) for b in flow.throughput] == [("workCenters/CAST-1", day, 5)]
    assert sum(b.orders for b in flow.shipped) == 6
    assert flow.littles_law.completed == 5

    metal = await stub.GetMetalAnalytics(pb.GetMetalAnalyticsRequest(window=days), metadata=STAFF, timeout=T)
    (loss,) = metal.by_operation
    assert (loss.operation_code, loss.alloy_code, loss.operations, loss.gross_in_mg, loss.loss_mg) == (
        "CAST", "AU750Y", 5, 50000, 500
    )  # fmt: skip
    assert (loss.loss_pct, loss.allowed_mg, loss.excess_mg, loss.exceptions) == (1.0, 1000, 0, 0)
    assert [(o.operator_code, o.operations, o.loss_mg) for o in metal.by_operator] == [("OP-01", 5, 500)]
    assert [(b.bucket_start, b.loss_mg) for b in metal.trend] == [(day, 500)]


async def test_analytics_refuse_bad_windows_and_callers(stub: Any) -> None:
    now = datetime.now(UTC)
    bad = [
        (pb.Window(), ["window.from_time", "window.to_time"]),
        (window(now, now - timedelta(hours=1)), ["window.to_time"]),
        (window(now - timedelta(hours=500), now, pb.GRAIN_HOUR), ["window.grain"]),
        (pb.Window(from_time=ts(now - timedelta(days=1)), to_time=ts(now), grain=7), ["window.grain"]),  # type: ignore[arg-type]
    ]
    for value, fields in bad:
        for call in (
            stub.GetPartnerAnalytics(pb.GetPartnerAnalyticsRequest(window=value), metadata=STAFF, timeout=T),
            stub.GetFlowAnalytics(pb.GetFlowAnalyticsRequest(window=value), metadata=STAFF, timeout=T),
            stub.GetMetalAnalytics(pb.GetMetalAnalyticsRequest(window=value), metadata=STAFF, timeout=T),
        ):
            failure = await fails(call)
            assert (failure.code, failure.fields) == (grpc.StatusCode.INVALID_ARGUMENT, fields)
    week = window(now - timedelta(days=7), now)
    other = await fails(
        stub.GetPartnerAnalytics(
            pb.GetPartnerAnalyticsRequest(window=week, partner_id="beta"), metadata=acting(PARTNER), timeout=T
        )
    )
    assert other.code == grpc.StatusCode.PERMISSION_DENIED
    for call in (
        stub.GetFlowAnalytics(pb.GetFlowAnalyticsRequest(window=week), metadata=acting(PARTNER), timeout=T),
        stub.ImportFacts(pb.ImportFactsRequest(), metadata=acting(PARTNER), timeout=T),
        stub.Rebuild(pb.RebuildRequest(), metadata=acting(PARTNER), timeout=T),
    ):
        assert (await fails(call)).code == grpc.StatusCode.PERMISSION_DENIED
    assert (
        await fails(stub.GetProjectionStatus(pb.GetProjectionStatusRequest(), timeout=T))
    ).code == grpc.StatusCode.UNAUTHENTICATED


async def test_analytics_refuse_bad_facts_naming_each_field(stub: Any) -> None:
    request = pb.ImportFactsRequest(
        orders=[pb.OrderFact(order_id="o1", partner_id="acme")],
        operations=[pb.OperationFact(name="workOrders/w1/operations/x", status="READY")],
    )
    failure = await fails(stub.ImportFacts(request, metadata=STAFF, timeout=T))
    assert (failure.code, failure.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        ["orders[0].submit_time", "operations[0].name"],
    )
    assert (await _status(stub)).orders == 0


async def test_analytics_rebuild_once_per_request_id_keeping_imported_facts_when_asked(stub: Any) -> None:
    await stub.ImportFacts(_facts(_anchor()), metadata=STAFF, timeout=T)
    kept = await stub.Rebuild(pb.RebuildRequest(keep_imported=True, request_id="rb-1"), metadata=STAFF, timeout=T)
    assert [p.sequence for p in kept.as_of.positions] == [0, 0, 0, 0]
    assert ((await _status(stub)).imported_orders, (await _status(stub)).imported_operations) == (7, 7)
    reused = await fails(stub.Rebuild(pb.RebuildRequest(request_id="rb-1"), metadata=STAFF, timeout=T))
    assert (reused.code, reused.reason) == (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")
    await stub.Rebuild(pb.RebuildRequest(keep_imported=True, request_id="rb-1"), metadata=STAFF, timeout=T)
    await stub.Rebuild(pb.RebuildRequest(request_id="rb-2"), metadata=STAFF, timeout=T)
    status = await _status(stub)
    assert (status.orders, status.operations, status.imported_orders) == (0, 0, 0)
    await stub.ImportFacts(_facts(_anchor()), metadata=STAFF, timeout=T)
    await stub.Rebuild(pb.RebuildRequest(request_id="rb-2"), metadata=STAFF, timeout=T)  # done already: nothing
    assert (await _status(stub)).orders == 7
