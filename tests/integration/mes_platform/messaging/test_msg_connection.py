"""NATS connection handling and stream set-up against a real nats-server."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.js.api import RetentionPolicy, StorageType

from mes_platform.messaging import MES_STREAMS, NatsConnection, connect_nats, ensure_streams
from mes_platform.messaging.connection import track_pull_subscription
from tests._infra.nats import NatsServer
from tests._infra.ports import free_port
from tests.integration.mes_platform.messaging.msg_helpers import wait_for


async def test_ensure_streams_is_idempotent_and_updates_changes(nats_conn: NatsConnection) -> None:
    infos = await ensure_streams(nats_conn.js, duplicate_window_s=60)
    assert set(infos) == {"ORDERS", "INVENTORY", "PRODUCTION"}
    for spec in MES_STREAMS:
        config = infos[spec.name].config
        assert config.subjects == list(spec.subjects)
        assert config.retention == RetentionPolicy.LIMITS  # several services may consume a subject
        assert config.storage == StorageType.FILE
        assert config.duplicate_window == 60
        assert config.max_age == 7 * 24 * 3600
    updated = await ensure_streams(nats_conn.js, duplicate_window_s=30)
    assert updated["ORDERS"].config.duplicate_window == 30


async def test_connection_probe_follows_the_server_and_reconnects(server: NatsServer) -> None:
    conn = await connect_nats(server.url, name="probe", reconnect_time_wait_s=0.1)
    try:
        assert await conn.probe()
        server.kill()
        await wait_for(lambda: asyncio.sleep(0, result=not conn.connected()), timeout=5)
        assert not await conn.probe()
        server.start()
        await wait_for(conn.probe, timeout=10)
    finally:
        await conn.close()
    assert conn.nc.is_closed


async def test_initial_connect_gives_up_after_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await connect_nats(f"nats://127.0.0.1:{free_port()}", name="nowhere", initial_timeout_s=0.5)
    assert time.monotonic() - started < 3


async def test_close_after_an_empty_fetch_does_not_wait_for_the_drain_timeout(server: NatsServer) -> None:
    conn = await connect_nats(server.url, name="drain", drain_timeout_s=10)
    await ensure_streams(conn.js)
    sub = await conn.js.pull_subscribe("orders.>", durable="drain-test", stream="ORDERS")
    track_pull_subscription(conn.js, sub)
    with pytest.raises(TimeoutError):
        await sub.fetch(1, timeout=0.2)
    started = time.monotonic()
    await conn.close()
    assert time.monotonic() - started < 2
    await conn.close()  # idempotent
