"""The event pipeline's gauges of a real service (inventory in process, SQLite and PostgreSQL, a private
nats-server), read from its ``/metrics``: the outbox backlog and its age, the dead letters waiting for a
replay, and the lag of JetStream's durable consumers, the service's own and those of its stream."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

import grpc
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import update

from mes.inventory.v1 import inventory_pb2 as pb
from mes.inventory.v1 import inventory_pb2_grpc
from mes_contracts.events import INVENTORY_STREAM, ORDER_SUBMITTED
from mes_kernel.clock import utcnow
from mes_platform.messaging import connect_nats
from mes_platform.messaging.deadletters import record_dead_letter
from services.inventory.adapters.tables import infra
from services.inventory.bootstrap import App
from tests._infra.nats import NatsServer
from tests.integration.observability.conftest import SERVICE_TOKEN, StartInventory
from tests.integration.observability.obs_helpers import sample_value, scrape

WAIT_S = 30.0


async def upsert_alloys(app: App, *codes: str) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        for code in codes:
            alloy = pb.Alloy(
                code=code, metal=pb.METAL_GOLD, fineness=750, colour="yellow", display_name=code, active=True
            )
            await stub.UpsertAlloy(pb.UpsertAlloyRequest(alloy=alloy), metadata=SERVICE_TOKEN, timeout=10)


async def metrics_of(app: App) -> str:
    assert app.metrics is not None
    return await asyncio.to_thread(scrape, app.metrics.url)


async def until(app: App, what: str, check: Callable[[str], bool]) -> str:
    """The first scrape of ``app`` for which ``check`` holds (a liveness bound, not a timing claim)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        text = await metrics_of(app)
        if check(text):
            return text
        assert time.monotonic() < deadline, f"{what}: not seen within {WAIT_S:.0f} s\n{text}"
        await asyncio.sleep(0.1)


async def test_the_outbox_backlog_and_the_dead_letters_waiting_are_read_from_the_database(
    start_inventory: StartInventory,
) -> None:
    consumer = f"inventory-obs-{secrets.token_hex(4)}"
    async with start_inventory(MES_INVENTORY_RELAY="0") as app:  # nothing publishes: the outbox fills
        await upsert_alloys(app, "AU750Y", "AU585R", "AG925")
        text = await until(
            app,
            "three events waiting, the oldest for a while",
            lambda t: (
                sample_value(t, "mes_outbox_unpublished_events", service="inventory") == 3
                and (sample_value(t, "mes_outbox_oldest_unpublished_age_seconds", service="inventory") or 0) >= 0.3
            ),
        )
        # the dead-letter outcomes of the service's consumers exist from the start (increase() sees the first)
        for durable in ("inventory-order-events", "inventory-production-events", "inventory-stock-events"):
            labels = {"service": "inventory", "consumer": durable}
            assert sample_value(text, "mes_events_consumed_total", outcome="dead_letter", **labels) is not None
            assert sample_value(text, "mes_dead_letters_waiting", **labels) == 0

        async with app.db.write() as session:
            letter = await record_dead_letter(
                session,
                infra.dead_letters,
                consumer=consumer,
                event_id="obs-dead-letter",
                subject=ORDER_SUBMITTED.subject,
                payload=b"\x00",
                headers={},
                error="handler failed",
                deliveries=5,
            )
        await until(
            app, "one dead letter", lambda t: sample_value(t, "mes_dead_letters_waiting", consumer=consumer) == 1
        )
        async with app.db.write() as session:
            table = infra.dead_letters
            await session.execute(update(table).where(table.c.id == letter).values(replayed_at=utcnow()))
        await until(app, "replayed", lambda t: sample_value(t, "mes_dead_letters_waiting", consumer=consumer) == 0)


async def test_the_lag_of_the_streams_durable_consumers_is_read_from_jetstream(
    start_inventory: StartInventory, nats: NatsServer
) -> None:
    foreign = f"production-obs-{secrets.token_hex(4)}"  # another service's consumer of INVENTORY, not running
    conn = await connect_nats(nats.url, name="obs-test", drain_timeout_s=2.0)
    try:
        async with start_inventory() as app:  # its streams exist once it has started
            stream = INVENTORY_STREAM.name
            await conn.js.add_consumer(stream, ConsumerConfig(durable_name=foreign, ack_policy=AckPolicy.EXPLICIT))
            ephemeral = await conn.js.add_consumer(
                stream, ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, inactive_threshold=60.0)
            )
            await upsert_alloys(app, "AU750Y", "PT950")
            messages = 0

            def caught_up(text: str) -> bool:
                nonlocal messages
                published = sample_value(text, "mes_outbox_unpublished_events", service="inventory") == 0
                pending = sample_value(text, "mes_consumer_pending_messages", stream=stream, consumer=foreign)
                return published and pending is not None and pending >= 2 and pending == messages

            async def stream_messages() -> None:
                nonlocal messages
                messages = (await conn.js.stream_info(stream)).state.messages

            deadline = time.monotonic() + WAIT_S
            while True:
                await stream_messages()
                text = await metrics_of(app)
                if caught_up(text):
                    break
                assert time.monotonic() < deadline, f"{foreign} pending != {messages} in\n{text}"
                await asyncio.sleep(0.1)
            labels = {"stream": stream, "consumer": foreign}
            assert sample_value(text, "mes_consumer_ack_pending_messages", **labels) == 0
            assert sample_value(text, "mes_consumer_redelivered_messages", **labels) == 0
            own = {"stream": "ORDERS", "consumer": "inventory-order-events"}  # the service's own consumer
            assert sample_value(text, "mes_consumer_pending_messages", **own) == 0
            assert f'consumer="{ephemeral.name}"' not in text  # ephemeral consumers are not watched

            await conn.js.delete_consumer(stream, foreign)
            await until(app, "the deleted consumer's series gone", lambda t: f'consumer="{foreign}"' not in t)
    finally:
        await conn.close()
