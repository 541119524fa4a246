"""Fault test: the webhooks service (consumer and dispatcher) SIGKILLed mid-delivery, again and again.

A real ``python -m services.webhooks`` process on SQLite or PostgreSQL and a private
nats-server; order events published on the ORDERS stream while the process is killed with
SIGKILL each time a receiver holds a request it has already processed (the receiver processes,
then answers late, and also fails at random). After the last restart:

* no event is lost: every status change of every order reached the receiver;
* duplicates happened (the killed attempts are sent again once their lease ran out), and each
  status change only ever came under one ``webhook-id``: a receiver that deduplicates by
  ``webhook-id`` applies each change exactly once;
* every delivery ends DELIVERED.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest

from mes.webhooks.v1 import webhooks_pb2 as pb
from mes.webhooks.v1 import webhooks_pb2_grpc
from tests._infra.nats import NatsServer
from tests._infra.ports import LOOPBACK, free_ports
from tests._infra.services import BACKENDS, backend_database_url
from tests.e2e.faults._procs import ServiceProcess, base_env
from tests.integration.webhooks._orders import LIFECYCLE, OrderEvents
from tests.integration.webhooks._receiver import Receiver, running_receiver
from tests.integration.webhooks._support import AUTH_TOKENS, STAFF, T, acting, eventually

ORDERS = 20
KILLS = 4


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_database_url(request, tmp_path, "webhooks")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as started:
        yield started


@pytest.fixture
def webhooks_process(
    db_url: str, make_nats_server: Callable[..., NatsServer], tmp_path: Path
) -> Iterator[ServiceProcess]:
    nats_server = make_nats_server()
    port, metrics_port = free_ports(2)
    env = base_env()
    env.update(
        {
            "NATS_URL": nats_server.url,
            "MES_AUTH_TOKENS": AUTH_TOKENS,
            "MES_DATA_DIR": str(tmp_path),
            "MES_DEV_MODE": "1",
            "MES_LOG_LEVEL": "INFO",
            "MES_SHUTDOWN_GRACE_S": "1",
            "MES_WEBHOOKS_GRPC_HOST": LOOPBACK,
            "MES_WEBHOOKS_GRPC_PORT": str(port),
            "MES_WEBHOOKS_METRICS_PORT": str(metrics_port),
            "MES_WEBHOOKS_DATABASE_URL": db_url,
            "MES_WEBHOOKS_RETRY_INITIAL_S": "0.05",
            "MES_WEBHOOKS_RETRY_MAX_S": "0.3",
            "MES_WEBHOOKS_POLL_S": "0.1",
            "MES_WEBHOOKS_REQUEST_TIMEOUT_S": "1",
            "MES_WEBHOOKS_LEASE_S": "2",
            "MES_WEBHOOKS_CONSUMER_ACK_WAIT_S": "2",
            "MES_WEBHOOKS_CONSUMER_BACKOFF_S": "0.2,0.5",
            "MES_WEBHOOKS_CONSUMER_FETCH_TIMEOUT_S": "0.5",
        }
    )
    process = ServiceProcess("webhooks", 0, port, metrics_port, env, tmp_path / "webhooks.log")
    yield process
    process.kill()


async def test_a_dispatcher_killed_mid_delivery_loses_nothing_and_repeats_under_the_same_webhook_id(
    webhooks_process: ServiceProcess, receiver: Receiver
) -> None:
    await webhooks_process.start()
    async with grpc.aio.insecure_channel(webhooks_process.address) as channel:
        stub = webhooks_pb2_grpc.WebhooksServiceStub(channel)
        created = await stub.CreateWebhookEndpoint(
            pb.CreateWebhookEndpointRequest(url=receiver.url("/acme"), event_types=[1]),
            metadata=acting("acme"),
            timeout=T,
        )
    route = receiver.route("/acme", [created.secret], delay_after_s=0.2, fail_before=0.1, fail_after=0.1, seed=3)
    order_ids = [str(uuid.uuid4()) for _ in range(ORDERS)]
    connection = await nats.connect(webhooks_process.env["NATS_URL"])
    try:
        events = OrderEvents(connection.jetstream())
        publishing = asyncio.create_task(_publish(events, order_ids))
        for _ in range(KILLS):
            await eventually(lambda: _true(route.in_progress > 0), what="a request held by the receiver")
            webhooks_process.kill()
            await webhooks_process.start()
        await publishing
    finally:
        await connection.close()

    expected = ORDERS * len(LIFECYCLE)
    await eventually(lambda: _true(len(route.processed) >= expected), what="every change processed", timeout=90)
    async with grpc.aio.insecure_channel(webhooks_process.address) as channel:
        stub = webhooks_pb2_grpc.WebhooksServiceStub(channel)
        await eventually(
            lambda: _all_delivered(stub, created.endpoint.name, expected), what="all DELIVERED", timeout=60
        )

    assert webhooks_process.kills == KILLS
    received = {(p["data"]["orderId"], p["data"]["orderVersion"]) for p in route.payloads()}
    assert received == {(order_id, v) for order_id in order_ids for v in range(1, len(LIFECYCLE) + 1)}  # lost: 0
    assert len(route.processed) == expected  # applied once each
    assert sum(route.duplicates.values()) >= KILLS  # each kill left a processed request unanswered
    ids_per_change: dict[tuple[str, int], set[str]] = defaultdict(set)
    for webhook_id, payload in route.requests:
        ids_per_change[(payload["data"]["orderId"], payload["data"]["orderVersion"])].add(webhook_id)
    assert all(len(ids) == 1 for ids in ids_per_change.values())  # a repeat carries the same webhook-id
    assert route.bad_signatures == 0


async def _publish(events: OrderEvents, order_ids: list[str]) -> None:
    for index, order_id in enumerate(order_ids):
        await events.lifecycle(order_id, "acme", f"PO-{index}")
        await asyncio.sleep(0.05)


async def _true(value: bool) -> bool:
    return value


async def _all_delivered(stub: Any, parent: str, expected: int) -> bool:
    found: list[pb.WebhookDelivery] = []
    token = ""
    while True:
        reply = await stub.ListWebhookDeliveries(
            pb.ListWebhookDeliveriesRequest(parent=parent, page_size=100, page_token=token), metadata=STAFF, timeout=T
        )
        found.extend(reply.deliveries)
        token = reply.next_page_token
        if not token:
            break
    return len(found) == expected and all(d.state == pb.WEBHOOK_DELIVERY_STATE_DELIVERED for d in found)
