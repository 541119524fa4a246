"""The facade served by a real uvicorn (httptools, websockets) on a free port, and
``python -m graphql_facade`` as a process (start, health, graceful SIGTERM); Prometheus
``/metrics`` on a port of its own, 404 on the public one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import websockets

from graphql_facade.app import create_app
from graphql_facade.config import FacadeSettings
from graphql_facade.events import EventEnvelope
from graphql_facade.positions_sealed import sealer_for
from graphql_facade.runtime import Facade
from mes.orders.v1 import orders_events_pb2
from mes_contracts.events import ORDER_STATUS_CHANGED
from tests._infra.asgi_server import uvicorn_serving
from tests._infra.ports import free_port, free_ports
from tests.unit.graphql_facade.conftest import PARTNER_A_KEY, facade_settings
from tests.unit.graphql_facade.facade_fakes import FakeBackend

ROOT = Path(__file__).resolve().parents[3]


@asynccontextmanager
async def served(backend: FakeBackend, settings: FacadeSettings | None = None) -> AsyncIterator[tuple[str, Facade]]:
    opened: list[Facade] = []
    app = create_app(settings or facade_settings(), backend=backend, events=False, on_start=opened.append)
    async with uvicorn_serving(app, ws="websockets-sansio") as address:
        yield address, opened[0]


async def test_http_and_websocket_over_uvicorn() -> None:
    backend = FakeBackend()
    backend.add_partner("partner-a", PARTNER_A_KEY)
    order = backend.add_order("partner-a")
    async with served(backend) as (address, facade):
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http:
            response = await http.post(
                "/graphql",
                json={"query": "{ orders(first: 5) { nodes { id } } }"},
                headers={"X-API-Key": PARTNER_A_KEY},
            )
            assert response.status_code == 200
            assert response.json()["data"] == {"orders": {"nodes": [{"id": order.order_id}]}}
            assert "ratelimit" in response.headers
            assert (await http.get("/healthz")).status_code == 200

        facade.hub.start_at({"ORDERS": 7})
        async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": PARTNER_A_KEY}}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert ack["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": "subscription { orderStatusChanged "
                            "{ ... on OrderStatusChanged { position orderId } } }"
                        },
                    }
                )
            )
            await asyncio.sleep(0.1)
            event = orders_events_pb2.OrderStatusChangedEvent(
                order_id=order.order_id, partner_id="partner-a", to_status=2
            )
            facade.hub.publish(
                EventEnvelope("ORDERS", 8, ORDER_STATUS_CHANGED.subject, event.SerializeToString(), datetime.now(UTC))
            )
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            position = sealer_for(facade.settings.position_secret).seal("partner-a", 8)
            assert message["payload"]["data"]["orderStatusChanged"] == {"position": position, "orderId": order.order_id}

        async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": "wrong"}}))
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4403
            else:  # pragma: no cover - the server must close
                raise AssertionError("connection stayed open")


def _metrics_threads() -> list[threading.Thread]:
    """The serving threads of prometheus_client's listeners (``serve_forever``)."""
    return [t for t in threading.enumerate() if "serve_forever" in t.name]


def _port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` (connections closed a moment ago may still be in TIME_WAIT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_metrics_are_served_on_their_own_port_and_not_on_the_public_one() -> None:
    metrics_port = free_port()
    backend = FakeBackend()
    backend.add_catalogue()
    backend.add_partner("partner-a", PARTNER_A_KEY)
    settings = facade_settings(MES_FACADE_METRICS_PORT=str(metrics_port))
    async with served(backend, settings) as (address, _), httpx.AsyncClient(trust_env=False, timeout=10) as http:
        query = await http.post(
            f"http://{address}/graphql",
            json={"query": "{ styles(first: 1) { nodes { sku } } }"},
            headers={"X-API-Key": PARTNER_A_KEY},
        )
        assert query.status_code == 200
        public = await http.get(f"http://{address}/metrics")
        assert public.status_code == 404 and "mes_facade" not in public.text
        assert (await http.get(f"http://{address}/livez")).status_code == 200
        scraped = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        assert 'mes_facade_requests_total{audience="partner"' in scraped.text
    assert _port_is_free(metrics_port)  # the listener closed with the app
    assert not _metrics_threads()


async def test_metrics_port_zero_serves_no_metrics_anywhere() -> None:
    backend = FakeBackend()
    async with served(backend, facade_settings(MES_FACADE_METRICS_PORT="0")) as (address, _):
        assert not _metrics_threads()
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            assert (await http.get(f"http://{address}/metrics")).status_code == 404
            assert (await http.get(f"http://{address}/healthz")).status_code == 200


async def test_a_taken_metrics_port_stops_the_start() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = facade_settings(MES_FACADE_METRICS_PORT=str(taken.getsockname()[1]))
        app = create_app(settings, backend=FakeBackend(), events=False)
        with pytest.raises(RuntimeError, match=r"MES_FACADE_METRICS_PORT: cannot serve metrics on 127\.0\.0\.1:"):
            async with app.router.lifespan_context(app):
                pass


def test_python_m_graphql_facade_serves_and_stops_on_sigterm() -> None:
    port, metrics_port = free_ports(2)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "protos" / "gen")]),
        "MES_FACADE_PORT": str(port),
        "MES_FACADE_METRICS_PORT": str(metrics_port),
        "MES_ORDERS_ADDR": "127.0.0.1:1",
        "MES_INVENTORY_ADDR": "127.0.0.1:1",
        "MES_PRODUCTION_ADDR": "127.0.0.1:1",
        "MES_FACADE_LOG_LEVEL": "WARNING",
    }
    for name in ("NATS_URL", "REDIS_URL", "MES_FACADE_NATS_URL", "MES_FACADE_REDIS_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphql_facade"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None, proc.stderr.read().decode() if proc.stderr else ""
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
        assert scraped.status_code == 200 and "mes_facade_inflight_requests" in scraped.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert _port_is_free(metrics_port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()
