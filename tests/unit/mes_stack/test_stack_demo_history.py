"""The analytics' demo history: the same seed and day make the same weeks; the weeks look like the
demo's plant (partners, styles, routings, shifts, operators) and behave as promised (shares of
cancellations, lead times, late orders, losses over tolerance; one partner gone quiet); the usage
events are whole; the loader imports once, usage first, and in batches (fakes, no I/O)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import StatusCode

from clients import DeadlineExceededError
from graphql_facade.usage import LATENCY_BOUNDS_MS as FACADE_BOUNDS
from mes.analytics.v1 import analytics_pb2 as apb
from mes.facade.v1 import usage_events_pb2 as upb
from mes_stack import demo_data as d
from mes_stack.demo_history import (
    HISTORY_PREFIX,
    IMPORT_ATTEMPTS,
    IMPORT_DEADLINE_S,
    LATENCY_BOUNDS_MS,
    PROFILES,
    DemoHistory,
    generate_history,
    history_end,
    import_history,
    load_demo_history,
)

END = datetime(2026, 12, 7, tzinfo=UTC)
ZONE = ZoneInfo(d.PLANT_TIME_ZONE)
#: A few days of the year, so no property holds by the luck of one draw.
ENDS = (END, datetime(2026, 3, 30, tzinfo=UTC), datetime(2027, 7, 13, tzinfo=UTC))


def at(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


@pytest.fixture(scope="module", params=ENDS, ids=lambda end: end.date().isoformat())
def history(request: pytest.FixtureRequest) -> DemoHistory:
    return generate_history(42, end=request.param)


def test_the_same_day_and_seed_make_the_same_history() -> None:
    first, again = generate_history(42, end=END), generate_history(42, end=history_end(END + timedelta(hours=15)))
    assert first == again
    assert first.orders != generate_history(42, end=END, seed=7).orders
    # a busy partner's usage minute is the same whatever day the history ends on: a run after
    # midnight publishes the minutes both days share again unchanged, under the same ids
    tomorrow = {e.meta.event_id: e for e in generate_history(42, end=END + timedelta(days=1)).usage}
    aurora = [e for e in first.usage if e.partner_id == "aurora-jewels"]
    shared = [e for e in aurora if e.meta.event_id in tomorrow]
    assert len(shared) > len(aurora) * 0.9
    assert all(tomorrow[e.meta.event_id] == e for e in shared)


def test_no_days_no_history() -> None:
    empty = generate_history(0, end=END)
    assert (empty.orders, empty.operations, empty.usage) == ((), (), ())
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_history(42, end=datetime(2026, 12, 7))


def test_ids_are_history_ids_and_unique(history: DemoHistory) -> None:
    order_ids = [o.order_id for o in history.orders]
    assert len(set(order_ids)) == len(order_ids) > 80
    assert all(i.startswith(HISTORY_PREFIX) for i in order_ids)
    names = [op.name for op in history.operations]
    assert len(set(names)) == len(names)
    assert all(n.startswith(f"workOrders/{HISTORY_PREFIX}") for n in names)
    assert {op.order_id for op in history.operations} <= set(order_ids)
    event_ids = [e.meta.event_id for e in history.usage]
    assert len(set(event_ids)) == len(event_ids)


def test_everything_happens_inside_the_window_and_every_order_is_finished(history: DemoHistory) -> None:
    assert history.end - history.start == timedelta(days=42)
    for order in history.orders:
        assert history.start <= at(order.submit_time) < history.end
        assert order.HasField("ship_time") != order.HasField("cancel_time")
        closed = at(order.ship_time if order.HasField("ship_time") else order.cancel_time)
        assert at(order.submit_time) < closed < history.end
        if order.HasField("release_time"):
            assert at(order.submit_time) < at(order.release_time) < closed
    for op in history.operations:
        assert at(op.release_time) <= at(op.ready_time) < history.end


def test_orders_use_the_demo_partners_styles_and_alloys(history: DemoHistory) -> None:
    assert {p.partner_id for p in PROFILES} == {p.partner_id for p in d.PARTNERS}
    assert {o.partner_id for o in history.orders} == {p.partner_id for p in d.PARTNERS}
    styles, alloys = {s.sku for s in d.STYLES}, {a.code for a in d.ALLOYS}
    lines = [line for o in history.orders for line in o.lines]
    assert {line.style_code for line in lines} <= styles and {line.alloy_code for line in lines} <= alloys
    assert all(1 <= len(o.lines) <= 4 and all(x.quantity > 0 for x in o.lines) for o in history.orders)


def test_shares_of_a_plausible_plant(history: DemoHistory) -> None:
    orders = history.orders
    shipped = [o for o in orders if o.HasField("ship_time")]
    cancelled = [o for o in orders if o.HasField("cancel_time")]
    assert 0.01 <= len(cancelled) / len(orders) <= 0.10  # about 5 %
    assert any(o.HasField("release_time") for o in cancelled) or len(cancelled) < 3
    leads = [(at(o.ship_time) - at(o.submit_time)) / timedelta(days=1) for o in shipped]
    assert sum(3 <= lead <= 10 for lead in leads) / len(leads) >= 0.7  # most ship in 3-10 days
    assert 3 <= statistics.median(leads) <= 8
    late = [o for o in shipped if at(o.ship_time).astimezone(ZONE).date() > at(o.due_time).astimezone(ZONE).date()]
    assert 0.01 <= len(late) / len(shipped) <= 0.2  # some late
    held = [
        o for o in orders if o.HasField("release_time") and at(o.release_time) - at(o.submit_time) > timedelta(hours=12)
    ]
    assert held  # some waited for stock


def test_partners_have_their_own_cadence_and_one_went_quiet(history: DemoHistory) -> None:
    by_partner = Counter(o.partner_id for o in history.orders)
    assert by_partner["aurora-jewels"] > 3 * by_partner["northwind-gems"] > 0
    last = {p: max(at(o.submit_time) for o in history.orders if o.partner_id == p) for p in by_partner}
    assert history.end - last["northwind-gems"] > timedelta(days=14)  # quiet: more than two weeks
    assert history.end - last["aurora-jewels"] < timedelta(days=4)
    northwind_days = {
        at(o.submit_time).astimezone(ZONE).weekday() for o in history.orders if o.partner_id == "northwind-gems"
    }
    assert northwind_days <= {0, 3}  # Mondays and Thursdays


def test_operations_follow_the_routing_through_the_work_centers_inside_the_shifts(history: DemoHistory) -> None:
    styles = {s.sku: s for s in d.STYLES}
    centers = {f"workCenters/{wc.code}": wc.work_center_type for wc in d.WORK_CENTERS}
    operators = {op.code for op in d.OPERATORS}
    by_work_order: dict[str, list[apb.OperationFact]] = {}
    for op in history.operations:
        by_work_order.setdefault(op.name.rsplit("/operations/", 1)[0], []).append(op)
    orders = {o.order_id: o for o in history.orders}
    for name, ops in by_work_order.items():
        order = orders[ops[0].order_id]
        line = order.lines[int(name.rsplit("-", 1)[1]) - 1]
        routing = {step.sequence: step for step in styles[line.style_code].routing}
        previous_finish = None
        for op in ops:
            step = routing[int(op.name.rsplit("/", 1)[1])]
            assert (op.operation_code, op.loss_tolerance_per_mille) == (
                step.operation_code,
                step.loss_tolerance_per_mille,
            )
            assert centers[op.work_center] == step.work_center_type and op.alloy_code == line.alloy_code
            if previous_finish is not None:
                assert at(op.ready_time) == previous_finish
            if op.status == "CANCELLED":
                assert order.HasField("cancel_time") and not op.HasField("start_time")
                continue
            assert op.status == "FINISHED" and op.finished_by in operators
            start, finish = at(op.start_time).astimezone(ZONE), at(op.finish_time).astimezone(ZONE)
            assert at(op.ready_time) <= at(op.start_time) < at(op.finish_time)
            assert start.weekday() < 6 and start.date() == finish.date()  # Monday to Saturday
            assert start.time() >= time(6) and finish.time() <= time(22)  # the early and the late shift
            assert (at(op.finish_time) - at(op.start_time)).total_seconds() >= op.paused_seconds
            previous_finish = at(op.finish_time)
    assert sum(op.paused_seconds > 0 for op in history.operations) > 10


def test_weights_balance_and_losses_are_mostly_within_tolerance(history: DemoHistory) -> None:
    finished = [op for op in history.operations if op.status == "FINISHED"]
    over = 0
    for op in finished:
        loss = op.weigh_in_mg - op.weigh_out_mg - op.scrap_returned_mg
        assert loss >= 0 and op.weigh_out_mg > 0 and op.scrap_returned_mg >= 0
        over += loss * 1000 > op.loss_tolerance_per_mille * op.weigh_in_mg
        if op.loss_tolerance_per_mille == 0:
            assert loss == 0
    assert 0.005 <= over / len(finished) <= 0.08  # a few over
    casting = [op for op in finished if op.operation_code == "CASTING"]
    assert all(op.scrap_returned_mg > op.weigh_in_mg // 10 for op in casting)  # sprues go back to the vault
    by_operator = Counter(op.finished_by for op in finished)
    assert len(by_operator) >= 6


def test_usage_events_are_whole_minutes_with_every_field(history: DemoHistory) -> None:
    assert LATENCY_BOUNDS_MS == FACADE_BOUNDS  # histograms add up with the facade's own
    assert {e.partner_id for e in history.usage} == {p.partner_id for p in d.PARTNERS}
    tiers = {p.partner_id: p.tier for p in d.PARTNERS}
    for event in history.usage:
        start = at(event.minute_start)
        assert history.start <= start < history.end and start.second == 0
        assert event.meta.producer == "facade" and event.tier == tiers[event.partner_id]
        assert event.requests == sum(event.latency_bucket_counts)
        assert event.throttled + event.rate_limited + event.errors_4xx + event.errors_5xx <= event.requests
        assert list(event.latency_bucket_bounds_ms) == list(LATENCY_BOUNDS_MS)
        assert len(event.latency_bucket_counts) == len(LATENCY_BOUNDS_MS) + 1
        assert sum(op.requests for op in event.operations) == event.requests
        for op in event.operations:
            assert sum(op.latency_bucket_counts) == op.requests >= op.errors
        codes = {c.code: c.count for c in event.error_codes}
        assert codes.get("THROTTLED", 0) == event.throttled and codes.get("RATE_LIMITED", 0) == event.rate_limited
        assert codes.get("IDEMPOTENCY_KEY_REUSED", 0) == event.key_reused
        assert event.replays + event.key_reused <= event.submissions
        assert event.cost_capacity == {"PLUS": 12000, "STANDARD": 6000}[event.tier]
        assert event.cost_used <= event.cost_capacity
    totals = Counter[str]()
    for event in history.usage:
        totals.update(
            requests=event.requests,
            throttled=event.throttled,
            errors=event.errors_4xx + event.errors_5xx,
            submissions=event.submissions,
            replays=event.replays,
            reused=event.key_reused,
        )
    assert totals["requests"] > 5000 and 0 < totals["throttled"] < totals["requests"] * 0.05
    assert 0 < totals["errors"] < totals["requests"] * 0.05
    assert totals["submissions"] > totals["replays"] > 0 and totals["reused"] > 0


def test_the_quiet_partner_still_looks_in_now_and_then(history: DemoHistory) -> None:
    quiet_since = max(at(o.submit_time) for o in history.orders if o.partner_id == "northwind-gems")
    later = [
        e
        for e in history.usage
        if e.partner_id == "northwind-gems" and at(e.minute_start) > quiet_since + timedelta(days=1)
    ]
    before = [e for e in history.usage if e.partner_id == "northwind-gems" and at(e.minute_start) < quiet_since]
    assert later and len(later) < len(before)
    assert sum(e.requests for e in later) / len(later) < sum(e.requests for e in before) / len(before) / 3


# -- the loader, with fakes -------------------------------------------------------------------


class FakeAnalytics:
    def __init__(self, imported_orders: int = 0, late: int = 0) -> None:
        self.imported_orders = imported_orders
        self.late = late
        self.requests: list[apb.ImportFactsRequest] = []
        self.calls: list[str] = []

    async def get_projection_status(self) -> apb.GetProjectionStatusResponse:
        return apb.GetProjectionStatusResponse(imported_orders=self.imported_orders)

    async def import_facts(
        self, request: apb.ImportFactsRequest, /, *, timeout: float | None = None
    ) -> apb.ImportFactsResponse:
        assert timeout == IMPORT_DEADLINE_S
        self.calls.append("import")
        if self.late:  # the call runs out of time (whether or not the service committed it)
            self.late -= 1
            raise DeadlineExceededError(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
        self.requests.append(request)
        self.imported_orders += len(request.orders)
        return apb.ImportFactsResponse(orders=len(request.orders), operations=len(request.operations))


class FakePublisher:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.published: list[upb.PartnerUsageRecordedEvent] = []

    async def __call__(self, events: Sequence[upb.PartnerUsageRecordedEvent]) -> int:
        self.calls.append("publish")
        self.published.extend(events)
        return len(events)


async def test_the_loader_publishes_the_usage_then_imports_the_facts_in_batches() -> None:
    analytics = FakeAnalytics()
    publish = FakePublisher(analytics.calls)
    lines: list[str] = []
    now = END + timedelta(hours=9)
    report = await load_demo_history(analytics, publish, days=42, now=now, say=lines.append)
    expected = generate_history(42, end=END)
    assert analytics.calls[0] == "publish" and set(analytics.calls[1:]) == {"import"}
    assert publish.published == list(expected.usage)
    assert [o for r in analytics.requests for o in r.orders] == list(expected.orders)
    assert sorted(op.name for r in analytics.requests for op in r.operations) == sorted(
        op.name for op in expected.operations
    )
    for request in analytics.requests:
        assert 0 < len(request.orders) <= 40
        assert {op.order_id for op in request.operations} <= {o.order_id for o in request.orders}
    assert (report.orders, report.operations, report.usage_minutes) == (
        len(expected.orders),
        len(expected.operations),
        len(expected.usage),
    )
    assert report.summary() == (
        f"demo history: 42 days, {len(expected.orders)} orders, {len(expected.operations)} operations,"
        f" {len(expected.usage)} API usage minutes"
    )
    assert lines[-1].startswith(f"  imported {len(expected.orders)}/{len(expected.orders)} orders")

    again = await load_demo_history(analytics, publish, days=42, now=now, say=lines.append)
    assert again.skipped.startswith("kept") and analytics.calls.count("publish") == 1


async def test_a_batch_that_runs_out_of_time_is_sent_again_and_three_in_a_row_fail_the_load() -> None:
    history = generate_history(7, end=END)
    analytics = FakeAnalytics(late=2)
    lines: list[str] = []
    assert await import_history(analytics, history, say=lines.append) == (
        len(history.orders),
        len(history.operations),
    )
    assert analytics.calls.count("import") == len(list(history.batches())) + 2
    assert sum("sending it again" in line for line in lines) == 2
    with pytest.raises(DeadlineExceededError):
        await import_history(FakeAnalytics(late=IMPORT_ATTEMPTS), history)


async def test_no_history_when_switched_off() -> None:
    analytics = FakeAnalytics()
    report = await load_demo_history(analytics, FakePublisher(analytics.calls), days=0, now=END)
    assert report.skipped.startswith("off") and analytics.calls == []
    assert report.summary() == "demo history: off (MES_STACK_DEMO_HISTORY_DAYS=0)"
