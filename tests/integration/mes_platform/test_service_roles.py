"""One service as two processes' worth of roles (in process here, on one database and a private
nats-server): the ``api`` role serves the gRPC API with no consumers and wakes the relay of the
``worker`` role over NATS; the worker runs consumers, tasks and the relay behind a health-only
server; the api starts and takes writes while NATS is down; the graceful stop reports
NOT_SERVING at once, keeps serving through its delay, then refuses new calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import func, select

from mes.inventory.v1 import inventory_pb2 as inv
from mes.inventory.v1 import inventory_pb2_grpc
from mes_platform.config import ServiceSettings
from services.inventory import bootstrap
from services.inventory.adapters.tables import infra
from tests._infra.nats import NatsServer
from tests._infra.ports import free_port
from tests._infra.services import BACKENDS, backend_database_url
from tests.integration.saga.saga_stack import eventually

T = 10.0
SVC = (("authorization", "Bearer svc-token"),)
FULL_NAME = "mes.inventory.v1.InventoryService"
App = bootstrap.App


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_database_url(request, tmp_path, "inventory")


def settings(db_url: str, tmp_path: Path, **env: str) -> ServiceSettings:
    base = {
        "MES_INVENTORY_DATABASE_URL": db_url,
        "MES_DATA_DIR": str(tmp_path),
        "MES_AUTH_TOKENS": "svc-token=service:test",
        "MES_LOG_LEVEL": "WARNING",
        # Only a wake-up can make the relay publish a row committed after its start-up sweep.
        "MES_RELAY_POLL_S": "3600",
    }
    return ServiceSettings.from_env("inventory", env={**base, **env})


@asynccontextmanager
async def started(config: ServiceSettings) -> AsyncIterator[App]:
    app = await bootstrap.start(config, port=0)
    try:
        yield app
    finally:
        await app.aclose()


def alloy(code: str) -> inv.UpsertAlloyRequest:
    return inv.UpsertAlloyRequest(
        alloy=inv.Alloy(
            code=code, metal=inv.METAL_GOLD, fineness=750, colour="yellow", density_mg_per_cm3=15_500, active=True
        )
    )


async def health(channel: grpc.aio.Channel, name: str = "") -> Any:
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=name), timeout=T)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return reply.status


async def unpublished(app: App) -> int:
    async with app.db.read() as session:
        query = select(func.count()).select_from(infra.outbox).where(infra.outbox.c.published_at.is_(None))
        return int((await session.execute(query)).scalar_one())


def channel_to(app: App) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")


async def test_the_api_serves_intake_and_the_worker_relays_what_it_committed(
    db_url: str, tmp_path: Path, make_nats_server: Callable[..., NatsServer]
) -> None:
    nats = make_nats_server()
    env: Mapping[str, str] = {"NATS_URL": nats.url}
    async with (
        started(settings(db_url, tmp_path, MES_ROLE="api", **env)) as api,
        started(settings(db_url, tmp_path, MES_ROLE="worker", MES_MIGRATE_ON_START="0", **env)) as worker,
        channel_to(api) as api_channel,
        channel_to(worker) as worker_channel,
    ):
        # what runs where
        assert api.messaging is None and api.waker is not None
        assert worker.messaging is not None and worker.messaging.relay is not None and worker.waker is None
        assert [c.durable for c in worker.messaging.consumers] == [
            spec.durable("inventory") for spec in worker.wiring.consumers
        ]
        assert (
            await health(api_channel) == await health(api_channel, FULL_NAME) == health_pb2.HealthCheckResponse.SERVING
        )
        assert await health(worker_channel) == health_pb2.HealthCheckResponse.SERVING
        assert await health(worker_channel, FULL_NAME) == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await inventory_pb2_grpc.InventoryServiceStub(worker_channel).UpsertAlloy(
                alloy("AU750Y"), metadata=SVC, timeout=T
            )
        assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED

        # intake on the api; its commit wakes the worker's relay (which would not poll for an hour)
        await eventually(lambda: _connected(api), what="the api's NATS link")
        await inventory_pb2_grpc.InventoryServiceStub(api_channel).UpsertAlloy(alloy("AU750Y"), metadata=SVC, timeout=T)
        await eventually(lambda: _published(worker), what="the row relayed by the worker")
        assert await unpublished(api) == 0
        assert api.waker.sent >= 1


async def _connected(api: App) -> bool:
    return api.waker is not None and api.waker.connected


async def _published(worker: App) -> bool:
    relay = worker.messaging.relay if worker.messaging is not None else None
    return relay is not None and relay.published_total >= 1 and await unpublished(worker) == 0


async def test_an_api_process_starts_and_takes_writes_while_nats_is_down(db_url: str, tmp_path: Path) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"
    async with started(settings(db_url, tmp_path, MES_ROLE="api", NATS_URL=nowhere)) as api, channel_to(api) as ch:
        assert await health(ch) == health_pb2.HealthCheckResponse.SERVING
        await inventory_pb2_grpc.InventoryServiceStub(ch).UpsertAlloy(alloy("AG925"), metadata=SVC, timeout=T)
        assert api.waker is not None and not api.waker.connected
        assert await unpublished(api) == 1  # kept in the outbox for the worker's relay


async def test_the_graceful_stop_keeps_serving_while_not_serving_then_refuses_new_calls(
    db_url: str, tmp_path: Path
) -> None:
    app = await bootstrap.start(settings(db_url, tmp_path, MES_ROLE="api"), port=0)
    hurry = asyncio.Event()
    async with channel_to(app) as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        await stub.UpsertAlloy(alloy("AU585R"), metadata=SVC, timeout=T)
        stopping = asyncio.create_task(app.aclose(delay_s=3600, hurry=hurry))
        await eventually(lambda: _is(health(channel), health_pb2.HealthCheckResponse.NOT_SERVING), what="NOT_SERVING")
        # still accepting calls while balancers move away
        listed = await stub.ListAlloys(inv.ListAlloysRequest(page_size=10), metadata=SVC, timeout=T)
        assert [a.code for a in listed.alloys] == ["AU585R"]
        assert not stopping.done()
        hurry.set()  # a second signal: the rest of the delay is skipped
        await asyncio.wait_for(stopping, timeout=60)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListAlloys(inv.ListAlloysRequest(page_size=10), metadata=SVC, timeout=T)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_worker_has_no_delay_to_wait(db_url: str, tmp_path: Path) -> None:
    app = await bootstrap.start(settings(db_url, tmp_path, MES_ROLE="worker"), port=0)
    # no NATS here: the worker runs nothing but its health server; the delay is for API traffic only
    await asyncio.wait_for(app.aclose(delay_s=3600), timeout=60)


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
