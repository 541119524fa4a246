"""The partners' usage events on a real NATS JetStream: the facade app (fake services) counts its
partners' requests, a throttled one among them, and publishes them per minute to the FACADE stream;
minutes kept while the server was away are all published once it is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy

from graphql_facade.config import FacadeSettings
from graphql_facade.runtime import Facade
from graphql_facade.usage_events import UsagePublisher
from mes.facade.v1 import usage_events_pb2
from mes_contracts.events import FACADE_STREAM, PARTNER_USAGE_RECORDED
from mes_platform.messaging.backoff import Backoff
from tests._infra.nats import NatsServer
from tests.integration.graphql_facade.conftest import facade_app
from tests.unit.graphql_facade.conftest import OPERATOR, PARTNER_A, PARTNER_B, facade_settings
from tests.unit.graphql_facade.facade_fakes import FakeBackend

ORDERS = "{ orders(first: 25) { nodes { id } } }"  # requested 27 points; 27 used with 25 orders
STYLES = "{ styles(first: 1) { nodes { sku } } }"


@dataclass
class Stored:
    msg_id: str
    event: usage_events_pb2.PartnerUsageRecordedEvent


def backend() -> FakeBackend:
    fake = FakeBackend()
    fake.add_catalogue()
    fake.add_partner("partner-a", PARTNER_A["X-API-Key"])
    fake.add_partner("partner-b", PARTNER_B["X-API-Key"])
    for _ in range(25):
        fake.add_order("partner-a")
    return fake


def settings(url: str, instance: str) -> FacadeSettings:
    return facade_settings(
        NATS_URL=url,
        MES_INSTANCE=instance,
        # one ORDERS query empties partner A's bucket: the next one is throttled
        MES_FACADE_LIMITS_STANDARD_MAX_COST="30",
        MES_FACADE_LIMITS_STANDARD_BUCKET_CAPACITY="30",
        MES_FACADE_LIMITS_STANDARD_RESTORE_RATE="0.1",
    )


async def stored_events(url: str, instance: str) -> list[Stored]:
    """The usage events of ``instance`` in the FACADE stream, in stream order."""
    nc = await nats.connect(url, connect_timeout=5)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(FACADE_STREAM.name)).state.last_seq
        found: list[Stored] = []
        if not last:
            return found
        config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        sub = await js.subscribe(
            PARTNER_USAGE_RECORDED.subject, stream=FACADE_STREAM.name, ordered_consumer=True, config=config
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=5)
                event = PARTNER_USAGE_RECORDED.decode(msg.data)
                if event.instance == instance:
                    found.append(Stored((msg.headers or {}).get("Nats-Msg-Id", ""), event))
                if msg.metadata.sequence.stream >= last:
                    return found
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()


def totals(events: list[Stored]) -> dict[str, dict[str, int]]:
    """Per partner, the counts of its events added up (the requests may straddle a minute)."""
    fields = ("requests", "throttled", "rate_limited", "rejected_cost", "cost_used", "errors_4xx", "errors_5xx")
    summed: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(fields, 0))
    for stored in events:
        for name in fields:
            summed[stored.event.partner_id][name] += getattr(stored.event, name)
    return dict(summed)


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_partner_requests_are_read_back_from_the_facade_stream(nats_url: str) -> None:
    instance = f"usage-{uuid.uuid4().hex[:8]}"
    async with facade_app(settings(nats_url, instance), backend=backend()) as f:
        assert f.facade.usage is not None and f.facade.usage_events is not None
        assert (await f.gql(ORDERS, headers=PARTNER_A)).status_code == 200
        throttled = await f.gql(ORDERS, headers=PARTNER_A)
        assert throttled.status_code == 429
        assert throttled.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert (await f.gql("{ orders(", headers=PARTNER_A)).status_code == 400
        assert (await f.gql(STYLES, headers=PARTNER_B)).status_code == 200
        assert (await f.gql(ORDERS, headers=OPERATOR)).status_code == 200
    # The app stopped: the minute in progress was published on the way out.
    events = await stored_events(nats_url, instance)
    assert totals(events) == {
        "partner-a": {
            "requests": 3,
            "throttled": 1,
            "rate_limited": 0,
            "rejected_cost": 27,
            "cost_used": 27,
            "errors_4xx": 1,
            "errors_5xx": 0,
        },
        "partner-b": {
            "requests": 1,
            "throttled": 0,
            "rate_limited": 0,
            "rejected_cost": 0,
            "cost_used": 3,
            "errors_4xx": 0,
            "errors_5xx": 0,
        },
    }
    for stored in events:
        event = stored.event
        assert stored.msg_id == event.meta.event_id and event.meta.producer == "facade"
        assert event.minute_start.seconds % 60 == 0 and event.instance == instance
        assert sum(event.latency_bucket_counts) == event.requests
        assert len(event.latency_bucket_counts) == len(event.latency_bucket_bounds_ms) + 1
        assert event.tier == "STANDARD" and event.cost_capacity == 6  # 0.1 point/s


async def test_minutes_kept_while_nats_restarts_are_all_published_once(
    make_nats_server: Callable[..., NatsServer],
) -> None:
    server = make_nats_server()
    instance = f"usage-{uuid.uuid4().hex[:8]}"
    minute = (int(time.time()) // 60 + 1) * 60  # a minute of the test's own clock, after the real one

    class Clock:
        now = float(minute + 1)

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    async with facade_app(settings(server.url, instance), backend=backend()) as f:
        facade: Facade = f.facade
        assert facade.usage is not None and facade.usage_events is not None
        publisher: UsagePublisher = facade.usage_events
        facade.usage.clock = clock
        publisher.backoff = Backoff(initial=0.05, factor=2.0, cap=0.5)
        assert (await f.gql(STYLES, headers=PARTNER_A)).status_code == 200
        clock.now += 60
        await wait_for(lambda: publisher.published_total == 1, "the first minute to be published")

        server.stop()
        for count in (2, 1):  # two minutes while the server is away
            for _ in range(count):
                assert (await f.gql(STYLES, headers=PARTNER_A)).status_code == 200
            clock.now += 60
        await wait_for(lambda: publisher.pending_minutes == [minute + 60, minute + 120], "two minutes kept")
        assert publisher.published_total == 1

        server.start()
        await wait_for(lambda: publisher.pending_events == 0, "the kept minutes to be published")
        assert publisher.dropped_total == 0
    events = await stored_events(server.url, instance)
    assert [(s.event.minute_start.seconds, s.event.partner_id, s.event.requests) for s in events] == [
        (minute, "partner-a", 1),
        (minute + 60, "partner-a", 2),
        (minute + 120, "partner-a", 1),
    ]
    assert len({s.msg_id for s in events}) == 3
