"""The partners' usage meter: classes of requests, cost, latency buckets, minutes, the partner cap, and
the endpoint feeding it (partners counted, operators not)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from graphql_facade.auth import Viewer
from graphql_facade.limits import LimitCode, Limits, partner_limits
from graphql_facade.usage import (
    LATENCY_BOUNDS_MS,
    ClosedMinute,
    PartnerMinute,
    RequestUsage,
    UsageMeter,
    note_cost,
    note_refusal,
    track,
    untrack,
)
from mes.orders.v1 import orders_pb2 as ords
from tests.unit.graphql_facade.conftest import OPERATOR, PARTNER_A, PARTNER_B, facade_settings, running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

T0 = 1_800_000_000 - 1_800_000_000 % 60  # the start of a minute
STANDARD = partner_limits("STANDARD")
PARTNER_A_VIEWER = Viewer("partner", "partner-a", partner_id="partner-a", tier="STANDARD")
OPERATOR_VIEWER = Viewer("operator", "OP-01")


@dataclass
class Clock:
    now: float = T0 + 5.0

    def __call__(self) -> float:
        return self.now


def partner(pid: str, tier: str = "STANDARD") -> Viewer:
    return Viewer("partner", pid, partner_id=pid, tier=tier)


def record(meter: UsageMeter, viewer: Viewer, status: int = 200, ms: float = 3.0, **noted: int | bool) -> None:
    meter.record(viewer, STANDARD, RequestUsage(**noted), status, ms / 1000.0)  # type: ignore[arg-type]


def only(closed: list[ClosedMinute]) -> PartnerMinute:
    assert len(closed) == 1 and len(closed[0].partners) == 1
    return closed[0].partners[0]


def overflow() -> float:
    return REGISTRY.get_sample_value("mes_facade_usage_overflow_total") or 0.0


def test_each_request_counts_once_in_its_class_with_its_cost() -> None:
    meter = UsageMeter(clock=Clock())
    record(meter, PARTNER_A_VIEWER, 200, cost_used=27)
    record(meter, PARTNER_A_VIEWER, 429, throttled=True, rejected_cost=27)
    record(meter, PARTNER_A_VIEWER, 429, rate_limited=True)
    record(meter, PARTNER_A_VIEWER, 200, rate_limited=True, cost_used=4)  # a batch with an operation refused
    record(meter, PARTNER_A_VIEWER, 200, throttled=True, rate_limited=True, rejected_cost=5)  # throttled wins
    record(meter, PARTNER_A_VIEWER, 400)
    record(meter, PARTNER_A_VIEWER, 404)
    record(meter, PARTNER_A_VIEWER, 503)
    record(meter, PARTNER_A_VIEWER, 504, cost_used=10)
    got = only(meter.close(everything=True))
    assert (got.partner_id, got.tier, got.cost_capacity) == ("partner-a", "STANDARD", 6000)  # 100 points/s
    assert (got.requests, got.throttled, got.rate_limited, got.errors_4xx, got.errors_5xx) == (9, 2, 2, 2, 2)
    assert (got.cost_used, got.rejected_cost) == (41, 32)


def test_latencies_fall_in_fixed_buckets_with_their_sum_and_maximum() -> None:
    meter = UsageMeter(clock=Clock())
    for ms in (0.2, 1.0, 1.01, 10.0, 10_000.0, 10_000.5, 42_000.0):
        record(meter, PARTNER_A_VIEWER, ms=ms)
    got = only(meter.close(everything=True))
    expected = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    expected[0] = 2  # 0.2 and 1.0: at most the first bound
    expected[1] = 1  # 1.01
    expected[LATENCY_BOUNDS_MS.index(10)] = 1
    expected[LATENCY_BOUNDS_MS.index(10_000)] = 1
    expected[-1] = 2  # above the last bound
    assert got.latency_counts == expected
    assert round(got.latency_ms_sum, 6) == round(0.2 + 1.0 + 1.01 + 10.0 + 10_000.0 + 10_000.5 + 42_000.0, 6)
    assert got.latency_ms_max == 42_000.0


def test_a_minute_closes_when_the_clock_passes_it() -> None:
    clock = Clock(T0 + 59.9)
    meter = UsageMeter(clock=clock)
    record(meter, PARTNER_A_VIEWER)
    record(meter, partner("partner-b"))
    assert meter.close() == []  # still open
    clock.now = T0 + 60.0
    record(meter, PARTNER_A_VIEWER)
    closed = meter.close()
    assert [c.start for c in closed] == [T0]
    assert sorted((p.partner_id, p.requests) for p in closed[0].partners) == [("partner-a", 1), ("partner-b", 1)]
    assert meter.close() == []  # handed over once
    clock.now = T0 + 185.0  # two minutes later, the one in between had no request
    closed = meter.close()
    assert [(c.start, [p.requests for p in c.partners]) for c in closed] == [(T0 + 60, [1])]


def test_a_clock_set_back_keeps_counting_in_the_open_minute() -> None:
    clock = Clock(T0 + 70.0)
    meter = UsageMeter(clock=clock)
    record(meter, PARTNER_A_VIEWER)
    clock.now = T0 + 50.0
    record(meter, PARTNER_A_VIEWER)
    closed = meter.close(everything=True)
    assert [(c.start, c.partners[0].requests) for c in closed] == [(T0 + 60, 2)]


def test_the_tier_and_capacity_are_those_of_the_last_request_of_the_minute() -> None:
    meter = UsageMeter(clock=Clock())
    record(meter, PARTNER_A_VIEWER)
    meter.record(partner("partner-a", "PLUS"), partner_limits("PLUS"), RequestUsage(), 200, 0.001)
    got = only(meter.close(everything=True))
    assert (got.requests, got.tier, got.cost_capacity) == (2, "PLUS", 12_000)


def test_partners_beyond_the_cap_are_not_counted_but_measured() -> None:
    clock = Clock()
    meter = UsageMeter(max_partners=2, clock=clock)
    before = overflow()
    record(meter, partner("p1"))
    record(meter, partner("p2"))
    record(meter, partner("p3"))
    record(meter, partner("p1"))  # a partner already counted still is
    assert overflow() == before + 1
    clock.now += 60  # a new minute has room again
    record(meter, partner("p3"))
    closed = meter.close(everything=True)
    assert [sorted((p.partner_id, p.requests) for p in c.partners) for c in closed] == [
        [("p1", 2), ("p2", 1)],
        [("p3", 1)],
    ]


def test_operators_are_not_counted() -> None:
    meter = UsageMeter(clock=Clock())
    meter.record(OPERATOR_VIEWER, Limits(throttle=False), RequestUsage(cost_used=50), 200, 0.01)
    assert meter.close(everything=True) == []


def test_the_stages_note_on_the_current_request_only() -> None:
    note_cost(5)  # no current request: nothing to note on
    note_refusal(LimitCode.THROTTLED, {"cost": {"requestedQueryCost": 9}})
    usage = RequestUsage()
    token = track(usage)
    try:
        note_cost(7)
        note_cost(3)
        note_refusal(LimitCode.THROTTLED, {"cost": {"requestedQueryCost": 9, "actualQueryCost": None}})
        note_refusal(LimitCode.RATE_LIMITED, {"policy": "submissions"})
        note_refusal("GRAPHQL_PARSE_FAILED", {})
    finally:
        untrack(token)
    note_cost(100)
    assert (usage.cost_used, usage.throttled, usage.rate_limited, usage.rejected_cost) == (10, True, True, 9)
    assert usage.codes == {"THROTTLED", "RATE_LIMITED", "GRAPHQL_PARSE_FAILED"}  # every refusal's code


async def test_the_endpoint_counts_partner_requests_and_not_operators() -> None:
    backend = FakeBackend()
    backend.add_partner("partner-a", PARTNER_A[next(iter(PARTNER_A))])
    backend.add_partner("partner-b", PARTNER_B[next(iter(PARTNER_B))], tier=ords.PARTNER_TIER_PLUS)
    for _ in range(25):
        backend.add_order("partner-a")
    settings = facade_settings(
        MES_FACADE_LIMITS_STANDARD_MAX_COST="30",
        MES_FACADE_LIMITS_STANDARD_BUCKET_CAPACITY="30",
        MES_FACADE_LIMITS_STANDARD_RESTORE_RATE="0.1",
    )
    orders = "{ orders(first: 25) { nodes { id } } }"  # requested 27 points, and 27 used: 25 orders
    clock = Clock()
    async with running_app(backend, settings) as c:
        c.facade.usage = meter = UsageMeter(clock=clock)
        first = await c.gql(orders, headers=PARTNER_A)
        assert first.json()["extensions"]["cost"]["actualQueryCost"] == 27
        throttled = await c.gql(orders, headers=PARTNER_A)
        assert throttled.status_code == 429
        assert throttled.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert (await c.gql("{ orders(", headers=PARTNER_A)).status_code == 400
        assert (await c.gql("{ styles(first: 1) { nodes { sku } } }", headers=PARTNER_B)).status_code == 200
        assert (await c.gql(orders, headers=OPERATOR)).status_code == 200
        assert (await c.gql(orders, headers={"X-API-Key": "mes_unknown"})).status_code == 401
    by_partner = {p.partner_id: p for c in meter.close(everything=True) for p in c.partners}
    assert set(by_partner) == {"partner-a", "partner-b"}
    a, b = by_partner["partner-a"], by_partner["partner-b"]
    assert (a.requests, a.throttled, a.rate_limited, a.errors_4xx, a.errors_5xx) == (3, 1, 0, 1, 0)
    assert (a.cost_used, a.rejected_cost, a.cost_capacity, a.tier) == (27, 27, 6, "STANDARD")
    assert sum(a.latency_counts) == 3 and a.latency_ms_max > 0
    assert a.error_codes == {"THROTTLED": 1, "GRAPHQL_PARSE_FAILED": 1}
    assert {name: (op.requests, op.errors) for name, op in a.operations.items()} == {"other": (3, 2)}
    assert (b.requests, b.tier, b.errors_4xx + b.errors_5xx + b.throttled) == (1, "PLUS", 0)
    assert b.cost_used > 0


def test_the_usage_settings() -> None:
    defaults = facade_settings()
    assert (defaults.usage_events, defaults.usage_buffer_minutes, defaults.usage_max_partners) == (True, 60, 1000)
    got = facade_settings(
        MES_FACADE_USAGE_EVENTS="0", MES_FACADE_USAGE_BUFFER_MINUTES="5", MES_FACADE_USAGE_MAX_PARTNERS="20"
    )
    assert (got.usage_events, got.usage_buffer_minutes, got.usage_max_partners) == (False, 5, 20)
    for name in ("MES_FACADE_USAGE_BUFFER_MINUTES", "MES_FACADE_USAGE_MAX_PARTNERS"):
        with pytest.raises(ValueError, match=f"{name} must be at least 1"):
            facade_settings(**{name: "0"})
    with pytest.raises(ValueError, match="MES_FACADE_USAGE_EVENTS must be 0 or 1"):
        facade_settings(MES_FACADE_USAGE_EVENTS="sometimes")


async def test_without_nats_or_when_switched_off_nothing_is_counted() -> None:
    backend = FakeBackend()
    async with running_app(backend, facade_settings()) as c:  # no NATS_URL
        assert c.facade.usage is None and c.facade.usage_events is None
    async with running_app(backend, facade_settings(NATS_URL="nats://127.0.0.1:1", MES_FACADE_USAGE_EVENTS="0")) as c:
        assert c.facade.usage is None and c.facade.usage_events is None
