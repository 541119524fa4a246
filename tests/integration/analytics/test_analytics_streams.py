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
from tests.integration.analytics._figures import METAL, WireFigures
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


#: The figures compared (those that do not depend on the clock).
_FIGURES = (
    ("volume", "mix", "lead_time", "delivery", "api_usage", "api_operations", "api_errors", "idempotency"),
    ("value_stream", "throughput", "shipped", "littles_law"),
    METAL,
)


def _expected(history: History) -> dict[str, Any]:
    oracle = Oracle(history)
    answers = (oracle.partner(), oracle.flow(), oracle.metal())
    return {k: answer[k] for answer, keys in zip(answers, _FIGURES, strict=True) for k in keys}


async def _ask(running: Running) -> dict[str, Any]:
    span = window(START, END)
    stub = running.stub
    partner = await stub.GetPartnerAnalytics(pb.GetPartnerAnalyticsRequest(window=span), metadata=STAFF, timeout=T)
    flow = await stub.GetFlowAnalytics(pb.GetFlowAnalyticsRequest(window=span), metadata=STAFF, timeout=T)
    metal = await stub.GetMetalAnalytics(pb.GetMetalAnalyticsRequest(window=span), metadata=STAFF, timeout=T)
    figures = WireFigures()
    answers: dict[str, Any] = {}
    for answer, keys in zip((partner, flow, metal), _FIGURES, strict=True):
        answers.update(figures.shape(answer, keys))
    return answers


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
