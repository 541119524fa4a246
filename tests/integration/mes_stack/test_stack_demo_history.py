"""The analytics' demo history into a real analytics service (in process, SQLite) over a private
nats-server: the facts are imported, the usage minutes arrive through the FACADE stream, the
analytics see the quiet partner; a second load changes nothing and publishing again stores nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats

from clients import AnalyticsClient, ClientConfig
from clients.analytics import make_window
from mes.analytics.v1 import analytics_pb2 as pb
from mes_contracts.events import FACADE_STREAM
from mes_platform.config import DEFAULT_DEV_TOKEN, ServiceSettings
from mes_stack.demo_data import PLANT_TIME_ZONE
from mes_stack.demo_history import generate_history, history_end, load_into_stack, publish_usage
from services.analytics.bootstrap import start
from tests._infra.nats import NatsServer
from tests._infra.ports import LOOPBACK

DAYS = 42


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60.0) -> None:
    """Liveness: ``check`` holds within a generous bound (the worker applies the stream on its own)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s:.0f} s"
        await asyncio.sleep(0.2)


async def _stored(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(FACADE_STREAM.name)).state.messages)
    finally:
        await nc.close()


async def test_the_demo_history_reaches_the_analytics_once(
    tmp_path: Path, make_nats_server: Callable[..., NatsServer]
) -> None:
    server = make_nats_server()
    env = {
        "MES_AUTH_TOKENS": f"{DEFAULT_DEV_TOKEN}=service:demo",
        "MES_PAGE_TOKEN_SECRET": "test-secret",
        "MES_DATA_DIR": str(tmp_path),
        "NATS_URL": server.url,
        "MES_ANALYTICS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'analytics.db'}",
        "MES_ANALYTICS_TIME_ZONE": PLANT_TIME_ZONE,
    }
    now = datetime.now(UTC)
    expected = generate_history(DAYS, end=history_end(now))
    app = await start(ServiceSettings.from_env("analytics", env=env), port=0)  # ensures the streams it reads
    try:
        address = f"{LOOPBACK}:{app.port}"
        lines: list[str] = []
        report = await load_into_stack(
            address, server.url, token=DEFAULT_DEV_TOKEN, days=DAYS, now=now, say=lines.append
        )
        assert (report.orders, report.operations, report.usage_minutes) == (
            len(expected.orders),
            len(expected.operations),
            len(expected.usage),
        )
        assert lines[0] == f"  published {len(expected.usage)} API usage minutes to the FACADE stream"
        assert await _stored(server.url) == len(expected.usage)

        async with AnalyticsClient(ClientConfig(analytics_addr=address, token=DEFAULT_DEV_TOKEN)) as client:
            status = await client.get_projection_status()
            assert (status.imported_orders, status.imported_operations) == (
                len(expected.orders),
                len(expected.operations),
            )

            async def usage_applied() -> bool:
                return (await client.get_projection_status()).usage_minutes == len(expected.usage)

            await _eventually(usage_applied, "every usage minute applied")

            window = make_window(expected.start, expected.end + timedelta(days=1), pb.GRAIN_WEEK)
            partners = await client.get_partner_analytics(window=window)
            cadence = {c.partner_id: c for c in partners.cadence}
            assert cadence["northwind-gems"].quiet and not cadence["aurora-jewels"].quiet
            volume = sum(v.orders for v in partners.volume)
            assert 0 < volume <= len(expected.orders)
            assert sum(u.requests for u in partners.api_usage) == sum(e.requests for e in expected.usage)
            metal = await client.get_metal_analytics(window=window)
            assert sum(x.operations for x in metal.by_operation) == sum(
                op.status == "FINISHED" for op in expected.operations
            )

            again = await load_into_stack(address, server.url, token=DEFAULT_DEV_TOKEN, days=DAYS, now=now)
            assert again.skipped == f"kept ({len(expected.orders)} imported orders already held)"
            assert (await client.get_projection_status()).imported_orders == len(expected.orders)
    finally:
        await app.aclose()

    # the same events again: JetStream acknowledges them as duplicates and stores nothing
    assert await publish_usage(server.url, expected.usage[:50]) == 0
    assert await _stored(server.url) == len(expected.usage)
