"""The benchmarks' data generator (``perf/datagen``) on a small history: what it loads is what
the services would have written, checked by the fault suite's invariant checker and read back
through the services' APIs (ListOrders, GetOrder, CountOrders, ListWorkOrders) with the three
services started on the generated database."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clients import ClientConfig, MesClients, OrdersClient
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_pb2 as prod
from mes_platform.config import ServiceSettings
from mes_platform.messaging.connection import connect_nats
from mes_platform.provision import SERVICES, service_url
from perf.datagen import Options, Summary, load_into
from services.inventory import bootstrap as inventory_boot
from services.orders import bootstrap as orders_boot
from services.production import bootstrap as production_boot
from tests.e2e.faults._checker import check_history

ORDERS = 300
TOKEN = "datagen-token"
_BOOTS: dict[str, Any] = {"orders": orders_boot, "inventory": inventory_boot, "production": production_boot}


@pytest.fixture
def nats_url(make_nats_server: Callable[..., Any]) -> str:
    """A private nats-server: the consumers the checker reads are this test's own."""
    return str(make_nats_server().url)


@pytest.fixture
async def history(make_pg_database: Callable[..., str]) -> tuple[str, Summary]:
    url = make_pg_database(driver=None)
    summary = await load_into(url, Options(orders=ORDERS, seed=7), say=lambda _m: None)
    return url, summary


@pytest.fixture
async def services(history: tuple[str, Summary], nats_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The three services, in process, on the generated database (each as its own role)."""
    url, _ = history
    started: dict[str, Any] = {}
    try:
        for svc in SERVICES:
            env = {
                f"MES_{svc.upper()}_DATABASE_URL": service_url(url, svc),
                "MES_AUTH_TOKENS": f"{TOKEN}=service:datagen-check",
                "MES_DATA_DIR": str(tmp_path),
                "MES_LOG_FORMAT": "console",
                "MES_SHUTDOWN_GRACE_S": "1",
                "NATS_URL": nats_url,
            }
            started[svc] = await _BOOTS[svc].start(ServiceSettings.from_env(svc, env=env), port=0)
        yield started
    finally:
        for app in reversed(list(started.values())):
            await app.aclose()


def _config(services: dict[str, Any], **credentials: Any) -> ClientConfig:
    return ClientConfig(
        orders_addr=f"127.0.0.1:{services['orders'].port}",
        inventory_addr=f"127.0.0.1:{services['inventory'].port}",
        production_addr=f"127.0.0.1:{services['production'].port}",
        deadline_s=30.0,
        **credentials,
    )


async def test_perf_datagen_history_passes_the_fault_suite_checker(
    history: tuple[str, Summary], services: dict[str, Any], nats_url: str
) -> None:
    url, summary = history
    nats = await connect_nats(nats_url, name="datagen-check", initial_timeout_s=10.0, drain_timeout_s=1.0)
    try:
        async with MesClients(_config(services, token=TOKEN)) as mes:
            report = await check_history("datagen", mes, nats, url)
    finally:
        await nats.close()
    assert not report.broken(ORDERS), report.explain()
    assert report.details == [], report.explain()
    # the history holds every kind of order the benchmarks need
    assert {"SHIPPED", "IN_PRODUCTION", "CANCELLED"} <= set(summary.order_statuses), summary.order_statuses
    assert summary.rows["orders.outbox"] > 0 and summary.rows["inventory.inbox"] > 0


async def test_perf_datagen_history_reads_back_through_the_apis(
    history: tuple[str, Summary], services: dict[str, Any]
) -> None:
    url, summary = history
    async with MesClients(_config(services, token=TOKEN)) as mes:
        counts = await mes.orders.count_orders()
        orders = [o async for o in mes.orders.iter_orders(page_size=100)]
        work_orders = [w async for w in mes.production.iter_work_orders(page_size=100)]
        newest = await mes.orders.get_order(f"orders/{orders[0].order_id}")
    by_status = {
        ords.OrderStatus.Name(c.status).removeprefix("ORDER_STATUS_"): c.count for c in counts.counts if c.count
    }
    assert by_status == summary.order_statuses
    assert len(orders) == ORDERS
    assert [o.create_time.ToDatetime() for o in orders] == sorted(
        (o.create_time.ToDatetime() for o in orders), reverse=True
    )
    wo_status = Counter(prod.WorkOrderStatus.Name(w.status).removeprefix("WORK_ORDER_STATUS_") for w in work_orders)
    assert dict(wo_status) == summary.work_orders
    lines_per_order = Counter(w.order_id for w in work_orders)
    assert all(lines_per_order[o.order_id] == len(o.lines) for o in orders if o.order_id in lines_per_order)
    assert newest == orders[0]
    conn = await asyncpg.connect(url)
    try:
        stored = {
            r["order_id"]: r["n"]
            for r in await conn.fetch("SELECT order_id, count(*) AS n FROM orders.order_lines GROUP BY 1")
        }
        partner, key = next(iter(summary.partner_keys.items()))
        owned = await conn.fetchval("SELECT count(*) FROM orders.orders WHERE partner_id = $1", partner)
    finally:
        await conn.close()
    assert {o.order_id: len(o.lines) for o in orders} == stored
    # a partner's key from the summary authenticates, and the partner sees its own orders only
    client = OrdersClient(_config(services, token=None, api_key=key))
    try:
        mine = [o async for o in client.iter_orders(page_size=100)]
    finally:
        await client.aclose()
    assert len(mine) == owned and {o.partner for o in mine} == {f"partners/{partner}"}
