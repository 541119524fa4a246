"""The analytics service on a real nats-server: events published to the ORDERS, PRODUCTION, INVENTORY
and FACADE streams (the last one made by the service itself at start) fill its store, and it answers
the analytics over gRPC as the oracle computes them; a rebuild replays every stream and ends with the
same answers, nothing counted twice; imported facts stay through a rebuild that keeps them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest

from mes.analytics.v1 import analytics_pb2 as pb
from tests.integration.analytics._history import (
    Calendar,
    CustodyEntry,
    History,
    Operation,
    OpState,
    Order,
    Usage,
    WorkOrder,
    events_of,
)
from tests.integration.analytics._oracle import Oracle
from tests.integration.analytics._support import STAFF, Running, T, ts, window
from tests.integration.saga.saga_stack import eventually

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
START, END = T0 - timedelta(days=1), T0 + timedelta(days=10)


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _operation(n: int, code: str, wc: str, hours: float, *, pause: bool = False, over: bool = False) -> Operation:
    op = Operation(f"workOrders/w{n}/operations/1", f"w{n}", 1, f"o{n}", code, wc, "AU750Y", 20)
    ready, start, finish = _at(hours), _at(hours + 0.5 + n / 10), _at(hours + 2 + n / 5)
    op.states.append(OpState(ready, "QUEUED", "PENDING", 1))
    op.states.append(OpState(start, "IN_PROGRESS", "QUEUED", 2, start=start, weigh_in=10000))
    paused = 0
    if pause:
        op.states.append(
            OpState(_at(hours + 1), "PAUSED", "IN_PROGRESS", 3, start=start, pause_time=_at(hours + 1), weigh_in=10000)
        )
        paused = 600
        op.states.append(
            OpState(
                _at(hours + 1) + timedelta(seconds=600),
                "IN_PROGRESS",
                "PAUSED",
                4,
                start=start,
                paused_seconds=paused,
                weigh_in=10000,
            )
        )
    out = 9000 if over else 9850
    status = "LOSS_REVIEW" if over else "DONE"
    op.states.append(
        OpState(
            finish,
            status,
            "IN_PROGRESS",
            len(op.states) + 1,
            start=start,
            finish=finish,
            paused_seconds=paused,
            weigh_in=10000,
            weigh_out=out,
            scrap=50,
            finished_by=f"OP-0{n % 2 + 1}",
        )
    )
    return op


def _history() -> History:
    orders = []
    for n in range(7):
        partner = "acme" if n < 5 else "beta"
        order = Order(f"o{n}", partner, _at(n * 7), _at(n * 7 + 30), [("RNG", "AU750Y", 1 + n % 3)])
        if n != 6:
            order.release = _at(n * 7 + 1)
            order.work_orders = [WorkOrder(f"wo-o{n}-1", order.order_id, order.release)]
            order.ship = _at(n * 7 + 20 + n)
            order.work_orders[0].complete = _at(n * 7 + 18)
        else:
            order.cancel = _at(n * 7 + 2)
        orders.append(order)
    operations = [_operation(n, "CAST", "CAST-1", n * 3, pause=n == 2, over=n == 4) for n in range(6)] + [
        _operation(9, "FILE", "FILE-1", 5)
    ]
    custody = [
        CustodyEntry("c1", "ISSUE", "orders/o1", "issue-1", "AU750Y", 12000, _at(1)),
        CustodyEntry("c2", "ISSUE", "orders/o1", "issue-2", "AU750Y", 3000, _at(2)),
        CustodyEntry("c3", "LOSS", "orders/o1", "workOrders/w1/operations/1", "AU750Y", 150, _at(5)),
        CustodyEntry("c4", "RETURN", "stores", "orders/o1", "AU750Y", 11000, _at(30)),
        CustodyEntry("c5", "RECEIVE", "stores", "lots/l1", "AU750Y", 500000, _at(0)),
    ]
    bounds_len = 14
    usage = []
    for i, (partner, instance, minute) in enumerate(
        [("acme", "replica-1", _at(3)), ("acme", "replica-2", _at(3)), ("beta", "replica-1", _at(50))]
    ):
        counts = [0] * bounds_len
        counts[3 + i] = 6
        usage.append(
            Usage(
                f"usage-{i}",
                partner,
                instance,
                minute,
                6,
                1,
                0,
                100 * (i + 1),
                3000 + 3000 * i,
                1,
                0,
                counts,
                900,
                [("orders", 6, 1, counts)],
                [("BAD_USER_INPUT", 1)],
                2,
                1,
                0,
            )
        )
    calendars = [Calendar("CAST-1", "Europe/Rome", [(1, 6, 14), (2, 6, 14)], 1, _at(-100))]
    return History(
        zone="Europe/Rome",
        orders=orders,
        operations=operations,
        calendars=calendars,
        alloys=[("AU750Y", 750, 1), ("AG925", 925, 1)],
        custody=custody,
        usage=usage,
        window=(START, END, "DAY"),
        partner=None,
    )


def _lat(has: bool, *values: float) -> tuple[float, ...] | None:
    return tuple(values) if has else None


def _answers(partner: Any, flow: Any, metal: Any) -> dict[str, Any]:
    """The figures of the gRPC answers that do not depend on the clock, shaped as the oracle's."""
    day = lambda stamp: stamp.ToDatetime(tzinfo=UTC)  # noqa: E731
    little = flow.littles_law
    return {
        "volume": {(v.partner_id, day(v.bucket_start)): (v.orders, v.pieces) for v in partner.volume},
        "mix": {
            (pb.MixDimension.Name(m.dimension).removeprefix("MIX_DIMENSION_"), m.key): (m.pieces, m.share)
            for m in partner.mix
        },
        "lead_time": {
            x.partner_id: (x.n, _lat(x.has_percentiles, x.p50_hours, x.p85_hours, x.p95_hours))
            for x in partner.lead_time
        },
        "delivery": {d.partner_id: (d.shipped, d.on_time, d.otd) for d in partner.delivery},
        "api_usage": {
            (u.partner_id, day(u.bucket_start)): (
                u.requests,
                u.throttled,
                u.rate_limited,
                u.throttle_rate,
                u.cost_used,
                u.cost_capacity,
                u.cost_utilisation,
                u.errors_4xx,
                u.errors_5xx,
                u.error_rate_4xx,
                u.error_rate_5xx,
                _lat(u.has_percentiles, u.p50_ms, u.p95_ms),
            )
            for u in partner.api_usage
        },
        "api_operations": {
            (o.partner_id, o.operation): (o.requests, o.errors, _lat(o.has_percentiles, o.p50_ms, o.p95_ms))
            for o in partner.api_operations
        },
        "api_errors": {(e.partner_id, e.code): e.count for e in partner.api_errors},
        "idempotency": {
            i.partner_id: (i.submissions, i.replays, i.key_reused, i.replay_rate) for i in partner.idempotency
        },
        "value_stream": {
            s.operation_code: (
                s.n,
                _lat(s.has_percentiles, s.queue_p50_min, s.queue_p85_min, s.touch_p50_min, s.touch_p85_min),
            )
            for s in flow.value_stream
        },
        "throughput": {(t.work_center, day(t.bucket_start)): t.operations for t in flow.throughput},
        "shipped": {day(s.bucket_start): s.orders for s in flow.shipped},
        "littles_law": (
            little.mean_wip,
            little.throughput_per_day,
            little.mean_flow_days,
            little.deviation,
            little.steady,
            little.completed,
        ),
        "by_operation": {
            (r.operation_code, r.alloy_code): (
                r.operations,
                r.gross_in_mg,
                r.loss_mg,
                r.loss_fine_mg,
                r.loss_pct,
                r.allowed_mg,
                r.excess_mg,
                r.exceptions,
            )
            for r in metal.by_operation
        },
        "by_operator": {
            r.operator_code: (r.operations, r.gross_in_mg, r.loss_mg, r.loss_pct, r.allowed_mg, r.excess_mg)
            for r in metal.by_operator
        },
        "trend": {day(b.bucket_start): (b.gross_in_mg, b.loss_mg, b.loss_pct, b.allowed_mg) for b in metal.trend},
        "custody": {
            (c.holder, c.material_code): (
                c.issued_mg,
                c.returned_mg,
                c.loss_mg,
                c.pending_mg,
                c.pending_fine_mg,
                day(c.oldest_open_issue_time) if c.HasField("oldest_open_issue_time") else None,
            )
            for c in metal.custody
        },
    }


def _expected(history: History) -> dict[str, Any]:
    oracle = Oracle(history)
    partner, flow, metal = oracle.partner(), oracle.flow(), oracle.metal()
    keys = ("volume", "mix", "lead_time", "delivery", "api_usage", "api_operations", "api_errors", "idempotency")
    return {
        **{k: partner[k] for k in keys},
        **{k: flow[k] for k in ("value_stream", "throughput", "shipped", "littles_law")},
        **{k: metal[k] for k in ("by_operation", "by_operator", "trend", "custody")},
    }


async def _ask(running: Running) -> dict[str, Any]:
    span = window(START, END)
    stub = running.stub
    partner = await stub.GetPartnerAnalytics(pb.GetPartnerAnalyticsRequest(window=span), metadata=STAFF, timeout=T)
    flow = await stub.GetFlowAnalytics(pb.GetFlowAnalyticsRequest(window=span), metadata=STAFF, timeout=T)
    metal = await stub.GetMetalAnalytics(pb.GetMetalAnalyticsRequest(window=span), metadata=STAFF, timeout=T)
    return _answers(partner, flow, metal)


async def _caught_up(running: Running, positions: list[tuple[str, int]], counts: tuple[int, ...]) -> bool:
    status = await running.stub.GetProjectionStatus(pb.GetProjectionStatusRequest(), metadata=STAFF, timeout=T)
    held = (status.orders, status.operations, status.custody_entries, status.usage_minutes)
    return [(p.stream, p.sequence) for p in status.as_of.positions] == positions and held == counts


async def test_analytics_fill_from_the_streams_and_rebuild_by_replaying_them(
    make_analytics: Callable[..., Any], nats_url: str
) -> None:
    running = await make_analytics()
    history = _history()
    published = events_of(history)
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        assert (await js.stream_info("FACADE")).config.subjects == ["facade.>"]  # the service made it
        for event in published:
            payload = event.message.SerializeToString()
            ack = await js.publish(event.event_type.subject, payload, headers={"Nats-Msg-Id": event.event_id})
            assert ack.seq == event.sequence
        for event in published[::3]:  # a relay publishing again: JetStream drops the repeat
            ack = await js.publish(
                event.event_type.subject, event.message.SerializeToString(), headers={"Nats-Msg-Id": event.event_id}
            )
            assert ack.duplicate
    finally:
        await connection.close()
    last: dict[str, int] = {}
    for event in published:
        last[event.stream] = event.sequence
    positions = [(s, last.get(s, 0)) for s in ("ORDERS", "PRODUCTION", "INVENTORY", "FACADE")]
    counts = (7, 7, 5, 3)
    await eventually(lambda: _caught_up(running, positions, counts), what="the streams applied", timeout=T)
    expected = _expected(history)
    assert expected["custody"][("orders/o1", "AU750Y")][-1] == _at(1)  # the first issue is not balanced yet
    answers = await _ask(running)
    assert set(answers) == set(expected)
    for key in expected:
        assert answers[key] == _approx(expected[key]), key

    first = await running.stub.Rebuild(pb.RebuildRequest(request_id="rebuild-1"), metadata=STAFF, timeout=T)
    assert first.as_of.positions  # every stream listed
    await eventually(lambda: _caught_up(running, positions, counts), what="the replay applied", timeout=T)
    assert await _ask(running) == answers

    imported = pb.OrderFact(order_id="hist-1", partner_id="acme", submit_time=ts(_at(10)))
    await running.stub.ImportFacts(pb.ImportFactsRequest(orders=[imported]), metadata=STAFF, timeout=T)
    await running.stub.Rebuild(pb.RebuildRequest(request_id="rebuild-2", keep_imported=True), metadata=STAFF, timeout=T)
    await eventually(lambda: _caught_up(running, positions, (8, 7, 5, 3)), what="the replay with the import", timeout=T)
    status = await running.stub.GetProjectionStatus(pb.GetProjectionStatusRequest(), metadata=STAFF, timeout=T)
    assert (status.imported_orders, status.last_event_time.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)) == (1, True)


def _approx(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _approx(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_approx(v) for v in value)
    if isinstance(value, float):
        return pytest.approx(value, rel=1e-9, abs=1e-7)
    return value
