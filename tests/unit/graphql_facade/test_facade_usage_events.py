"""The publisher of the partners' usage events, with a fake publish: the events and their ids, retries,
the buffer's bound, the flush on stop, and the background task."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from prometheus_client import REGISTRY

from graphql_facade.auth import Viewer
from graphql_facade.limits import partner_limits
from graphql_facade.usage import LATENCY_BOUNDS_MS, OperationUse, PartnerMinute, RequestUsage, UsageMeter
from graphql_facade.usage_events import PRODUCER, UsagePublisher, usage_event
from mes_contracts.events import PARTNER_USAGE_RECORDED
from mes_platform.messaging.backoff import Backoff

T0 = 1_800_000_000 - 1_800_000_000 % 60
STANDARD = partner_limits("STANDARD")


@dataclass
class Clock:
    now: float = T0 + 1.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeJetStream:
    """``publish``: fails while ``down`` (or for the next ``failures`` calls), else stores the event."""

    down: bool = False
    failures: int = 0
    attempts: list[str] = field(default_factory=list)
    stored: dict[str, bytes] = field(default_factory=dict)
    published: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        assert subject == PARTNER_USAGE_RECORDED.subject
        self.attempts.append(msg_id)
        if self.down or self.failures > 0:
            self.failures = max(0, self.failures - 1)
            raise ConnectionError("nats is away")
        assert self.stored.setdefault(msg_id, payload) == payload  # a retry sends the same bytes
        self.published.set()

    def events(self) -> list[tuple[str, int, int]]:
        """(partner, minute start, requests) of the stored events, in the order they were stored."""
        decoded = [PARTNER_USAGE_RECORDED.decode(p) for p in self.stored.values()]
        return [(e.partner_id, e.minute_start.seconds, e.requests) for e in decoded]


def viewer(pid: str) -> Viewer:
    return Viewer("partner", pid, partner_id=pid, tier="STANDARD")


def hit(meter: UsageMeter, pid: str, n: int = 1, **noted: int | bool) -> None:
    for _ in range(n):
        meter.record(viewer(pid), STANDARD, RequestUsage(**noted), 200, 0.004)  # type: ignore[arg-type]


def publisher(clock: Clock, js: FakeJetStream, **kwargs: object) -> UsagePublisher:
    kwargs.setdefault("backoff", Backoff(initial=0.001, cap=0.002))
    kwargs.setdefault("stop_timeout_s", 0.2)
    return UsagePublisher(UsageMeter(clock=clock), js.publish, instance="facade-1", **kwargs)  # type: ignore[arg-type]


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("mes_facade_usage_events_dropped_total", {"reason": reason}) or 0.0


def test_the_event_carries_the_minute_of_one_partner_and_an_id_stable_across_retries() -> None:
    tally = PartnerMinute("partner-a", "PLUS", 12_000, requests=4, throttled=1, rate_limited=1, rejected_cost=27)
    tally.cost_used, tally.errors_4xx, tally.errors_5xx = 51, 1, 0
    tally.latency_ms_sum, tally.latency_ms_max = 12.6, 7.5
    tally.latency_counts[2], tally.latency_counts[3] = 3, 1
    event = usage_event(tally, T0, instance="facade-1", run="r1", now=T0 + 61.0)
    message = PARTNER_USAGE_RECORDED.decode(event.payload)
    assert message.meta.event_id == event.msg_id and message.meta.producer == PRODUCER
    assert message.meta.occur_time.seconds == T0 + 61
    assert (message.partner_id, message.tier, message.instance, message.minute_start.seconds) == (
        "partner-a",
        "PLUS",
        "facade-1",
        T0,
    )
    assert (message.requests, message.throttled, message.rate_limited, message.rejected_cost) == (4, 1, 1, 27)
    assert (message.cost_used, message.cost_capacity, message.errors_4xx, message.errors_5xx) == (51, 12_000, 1, 0)
    assert (message.latency_ms_sum, message.latency_ms_max) == (13, 8)
    assert list(message.latency_bucket_bounds_ms) == list(LATENCY_BOUNDS_MS)
    assert list(message.latency_bucket_counts) == tally.latency_counts
    assert len(message.latency_bucket_counts) == len(message.latency_bucket_bounds_ms) + 1
    # The id is a UUID (the inbox key) made of instance, run, partner and minute: the same for a retry.
    again = usage_event(tally, T0, instance="facade-1", run="r1", now=T0 + 99.0)
    assert again.msg_id == event.msg_id and len(event.msg_id) == 36
    others = {
        usage_event(tally, T0 + 60, instance="facade-1", run="r1", now=T0).msg_id,
        usage_event(tally, T0, instance="facade-2", run="r1", now=T0).msg_id,
        usage_event(tally, T0, instance="facade-1", run="r2", now=T0).msg_id,
        usage_event(PartnerMinute("partner-b", "PLUS", 0), T0, instance="facade-1", run="r1", now=T0).msg_id,
    }
    assert event.msg_id not in others and len(others) == 4


def test_the_event_carries_operations_error_codes_and_submissions() -> None:
    meter = UsageMeter(clock=Clock())
    requests = [
        (RequestUsage(operations=[OperationUse("Submit")], submissions=1, replays=1), 200, 0.004),
        (
            RequestUsage(
                operations=[OperationUse("Submit", failed=True)],
                codes={"IDEMPOTENCY_KEY_REUSED"},
                submissions=1,
                key_reused=1,
            ),
            200,
            0.3,
        ),
        (RequestUsage(operations=[OperationUse("Orders")]), 200, 0.0004),
        (RequestUsage(operations=[OperationUse(None)], codes={"THROTTLED"}, throttled=True), 429, 0.002),
    ]
    for usage, status, seconds in requests:
        meter.record(viewer("partner-a"), STANDARD, usage, status, seconds)
    (closed,) = meter.close(everything=True)
    (tally,) = closed.partners
    event = usage_event(tally, T0, instance="facade-1", run="r1", now=T0 + 61.0)
    message = PARTNER_USAGE_RECORDED.decode(event.payload)
    assert (message.requests, message.submissions, message.replays, message.key_reused) == (4, 2, 1, 1)
    # Operations and codes in the order of their names (the same tally, the same bytes).
    operations = [(o.operation, o.requests, o.errors, o.latency_ms_sum) for o in message.operations]
    assert operations == [("Orders", 1, 0, 0), ("Submit", 2, 1, 304), ("other", 1, 1, 2)]
    for op in message.operations:
        assert len(op.latency_bucket_counts) == len(LATENCY_BOUNDS_MS) + 1
        assert sum(op.latency_bucket_counts) == op.requests
    assert list(message.operations[1].latency_bucket_counts) == tally.operations["Submit"].latency_counts
    assert [(c.code, c.count) for c in message.error_codes] == [("IDEMPOTENCY_KEY_REUSED", 1), ("THROTTLED", 1)]
    assert usage_event(tally, T0, instance="facade-1", run="r1", now=T0 + 61.0).payload == event.payload
    # A tally without any has none.
    quiet = usage_event(PartnerMinute("partner-b", "PLUS", 0), T0, instance="facade-1", run="r1", now=T0)
    decoded = PARTNER_USAGE_RECORDED.decode(quiet.payload)
    assert (list(decoded.operations), list(decoded.error_codes), decoded.submissions) == ([], [], 0)


async def test_each_ended_minute_is_published_once_per_active_partner() -> None:
    clock, js = Clock(), FakeJetStream()
    pub = publisher(clock, js)
    hit(pub.meter, "partner-a", 3)
    hit(pub.meter, "partner-b")
    await pub.tick()
    assert js.attempts == []  # the minute has not ended
    clock.now = T0 + 61
    hit(pub.meter, "partner-a")
    await pub.tick()
    assert sorted(js.events()) == [("partner-a", T0, 3), ("partner-b", T0, 1)]
    assert pub.pending_events == 0 and pub.published_total == 2


async def test_a_failed_publish_is_retried_with_the_same_id_after_a_backoff_in_order() -> None:
    clock, timer, js = Clock(), Clock(0.0), FakeJetStream(failures=2)
    pub = publisher(clock, js, backoff=Backoff(initial=1.0, factor=2.0, cap=30.0), timer=timer)
    hit(pub.meter, "partner-a")
    clock.now = T0 + 61
    hit(pub.meter, "partner-a", 2)
    clock.now = T0 + 121
    await pub.tick()
    assert len(js.attempts) == 1 and pub.pending_minutes == [T0, T0 + 60]
    timer.now = 0.9
    await pub.tick()
    assert len(js.attempts) == 1  # backing off: no attempt before the delay (1 s)
    timer.now = 1.0
    await pub.tick()
    assert len(js.attempts) == 2 and pub.pending_events == 2
    timer.now = 2.9
    await pub.tick()
    assert len(js.attempts) == 2  # the delay doubled (2 s)
    timer.now = 3.0
    await pub.tick()
    assert js.attempts[0] == js.attempts[1] == js.attempts[2]  # the first minute, three times
    assert js.events() == [("partner-a", T0, 1), ("partner-a", T0 + 60, 2)]
    assert pub.pending_events == 0


async def test_while_nats_is_away_the_oldest_minutes_beyond_the_buffer_are_dropped() -> None:
    clock, js = Clock(), FakeJetStream(down=True)
    pub = publisher(clock, js, buffer_minutes=2)
    before = dropped("buffer_full")
    for minute in range(4):
        clock.now = T0 + 60 * minute + 1
        hit(pub.meter, "partner-a", minute + 1)
        hit(pub.meter, "partner-b")
    clock.now = T0 + 241
    pub.collect()
    assert pub.pending_minutes == [T0 + 120, T0 + 180]
    assert dropped("buffer_full") == before + 4 and pub.dropped_total == 4
    js.down = False
    assert await pub.publish_pending()
    assert sorted(js.events()) == [
        ("partner-a", T0 + 120, 3),
        ("partner-a", T0 + 180, 4),
        ("partner-b", T0 + 120, 1),
        ("partner-b", T0 + 180, 1),
    ]


async def test_stop_publishes_the_minute_in_progress() -> None:
    clock, js = Clock(T0 + 30), FakeJetStream(failures=1)
    pub = publisher(clock, js)
    hit(pub.meter, "partner-a", 2, cost_used=5)
    await pub.stop()
    assert js.events() == [("partner-a", T0, 2)]
    assert PARTNER_USAGE_RECORDED.decode(next(iter(js.stored.values()))).cost_used == 10
    assert pub.pending_events == 0 and pub.dropped_total == 0


async def test_what_cannot_be_published_by_the_end_of_stop_is_counted_as_dropped() -> None:
    clock, js = Clock(T0 + 30), FakeJetStream(down=True)
    pub = publisher(clock, js, stop_timeout_s=0.05)
    before = dropped("shutdown")
    hit(pub.meter, "partner-a")
    hit(pub.meter, "partner-b")
    await pub.stop()
    assert js.stored == {} and len(js.attempts) >= 1
    assert dropped("shutdown") == before + 2 and pub.pending_events == 0


async def test_the_background_task_publishes_shortly_after_a_minute_ends() -> None:
    clock, js = Clock(), FakeJetStream()
    pub = publisher(clock, js, interval_s=0.01)
    pub.start()
    try:
        hit(pub.meter, "partner-a")
        clock.now = T0 + 60
        await asyncio.wait_for(js.published.wait(), timeout=10)
        assert js.events() == [("partner-a", T0, 1)]
    finally:
        await pub.stop()
    assert pub.dropped_total == 0


def test_the_buffer_holds_at_least_one_minute() -> None:
    with pytest.raises(ValueError, match="buffer_minutes"):
        UsagePublisher(UsageMeter(), FakeJetStream().publish, instance="x", buffer_minutes=0)
