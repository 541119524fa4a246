"""Read-your-writes through gRPC on a real streaming replica: the inventory service writes on the
primary and reads on a replica that applies commits 300 ms late. A write's answer carries its commit
position (trailing metadata ``x-mes-commit-lsn``); the client library keeps the highest one and sends
it on its later calls (``x-mes-min-lsn``), so 200 write-then-read pairs read no stale alloy while a
client without the position does; reads of a caller that wrote nothing are served by the replica; a
malformed position is INVALID_ARGUMENT; with the replica stopped, reads still answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY

from clients import ClientConfig, InventoryClient
from clients._base import COMMIT_POSITION_KEY, MIN_POSITION_KEY
from mes.inventory.v1 import inventory_pb2 as inv
from mes.inventory.v1 import inventory_pb2_grpc
from mes_platform.config import ServiceSettings
from services.inventory import bootstrap
from tests._infra.pg_replica import ReplicatedPostgres
from tests._infra.rpc import fails

TOKEN = "svc-token"
CREDENTIALS = (("authorization", f"Bearer {TOKEN}"),)
PAIRS = 200
LAG_MS = 300


@pytest.fixture
async def inventory(
    make_replicated_postgres: Callable[[], ReplicatedPostgres], tmp_path: Path
) -> AsyncIterator[tuple[bootstrap.App, ReplicatedPostgres]]:
    """The inventory service writing on the primary, reading on the replica (caught up, then lagging)."""
    pair = make_replicated_postgres()
    writer_url, reader_url = pair.urls(pair.create_database())
    settings = ServiceSettings.from_env(
        "inventory",
        env={
            "MES_INVENTORY_DATABASE_URL": writer_url,
            "MES_INVENTORY_DATABASE_READ_URL": reader_url,
            "MES_DATA_DIR": str(tmp_path),
            "MES_AUTH_TOKENS": f"{TOKEN}=service:test",
            "MES_LOG_LEVEL": "WARNING",
            "MES_LOG_FORMAT": "console",
        },
    )
    app = await bootstrap.start(settings, port=0)
    try:
        await asyncio.to_thread(pair.wait_replayed)  # the schema, on the replica too
        assert app.db.router is not None
        assert await app.db.router.probe_once()  # healthy (a probe before the database reached it failed)
        await asyncio.to_thread(pair.set_apply_delay, LAG_MS)
        yield app, pair
    finally:
        await app.aclose()


def client(app: bootstrap.App) -> InventoryClient:
    return InventoryClient(ClientConfig(inventory_addr=f"127.0.0.1:{app.port}", token=TOKEN, deadline_s=30))


def alloy(code: str, name: str) -> inv.Alloy:
    return inv.Alloy(
        code=code,
        metal=inv.METAL_GOLD,
        fineness=750,
        colour="yellow",
        density_mg_per_cm3=15_500,
        display_name=name,
        active=True,
    )


def reads(route: str) -> float:
    return REGISTRY.get_sample_value("mes_db_replica_reads_total", {"service": "inventory", "route": route}) or 0.0


async def test_write_then_read_pairs_read_no_stale_answer(inventory: tuple[bootstrap.App, ReplicatedPostgres]) -> None:
    app, _pair = inventory
    async with client(app) as writer, client(app) as bystander:
        await writer.upsert_alloy(alloy("AU750Y", "start"))
        stale = 0
        for n in range(PAIRS):
            written = await writer.upsert_alloy(alloy("AU750Y", f"name-{n}"))
            read = await writer.get_alloy("alloys/AU750Y")
            stale += read.display_name != written.display_name or read.version < written.version
        assert stale == 0
        assert writer.positions.get("inventory") > 0
        # The lag is real: a client that did not write (no position) reads the replica's older alloy.
        behind = 0
        for n in range(20):
            written = await writer.upsert_alloy(alloy("AU750Y", f"other-{n}"))
            behind += (await bystander.get_alloy("alloys/AU750Y")).display_name != written.display_name
        assert behind > 0
        assert not bystander.positions


async def test_reads_of_a_caller_that_wrote_nothing_go_to_the_replica(
    inventory: tuple[bootstrap.App, ReplicatedPostgres],
) -> None:
    app, pair = inventory
    async with client(app) as writer:
        await writer.upsert_alloy(alloy("AG925", "silver"))
    await asyncio.to_thread(pair.wait_replayed)
    before = reads("replica")
    async with client(app) as reader:
        for _ in range(10):
            assert (await reader.get_alloy("alloys/AG925")).display_name == "silver"
    assert reads("replica") == before + 10


async def test_positions_travel_in_metadata(inventory: tuple[bootstrap.App, ReplicatedPostgres]) -> None:
    app, _pair = inventory
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        write = stub.UpsertAlloy(inv.UpsertAlloyRequest(alloy=alloy("PT950", "platinum")), metadata=CREDENTIALS)
        await write
        trailing = dict(await write.trailing_metadata())
        position = trailing[COMMIT_POSITION_KEY]
        read = stub.GetAlloy(
            inv.GetAlloyRequest(name="alloys/PT950"), metadata=(*CREDENTIALS, (MIN_POSITION_KEY, position))
        )
        assert (await read).alloy.display_name == "platinum"
        assert COMMIT_POSITION_KEY not in dict(await read.trailing_metadata())  # a read commits nothing
        bad = stub.GetAlloy(
            inv.GetAlloyRequest(name="alloys/PT950"), metadata=(*CREDENTIALS, (MIN_POSITION_KEY, "yesterday"))
        )
        failure = await fails(bad)
        assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
        assert failure.reason == "MALFORMED_POSITION"


async def test_reads_answer_while_the_replica_is_down(inventory: tuple[bootstrap.App, ReplicatedPostgres]) -> None:
    app, pair = inventory
    async with client(app) as writer, client(app) as reader:
        await writer.upsert_alloy(alloy("AU585R", "rose"))
        await asyncio.to_thread(pair.replica.stop)
        assert (await writer.get_alloy("alloys/AU585R")).display_name == "rose"
        assert (await reader.get_alloy("alloys/AU585R")).display_name == "rose"
