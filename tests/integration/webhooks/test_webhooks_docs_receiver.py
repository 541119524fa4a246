"""The receiver of ``docs/webhooks.md`` (§7), run as written against the service: it verifies every
call, applies every status change once, ignores repeats and stale versions, refuses forgeries."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mes.webhooks.v1 import webhooks_pb2 as pb
from services.webhooks.domain.signing import new_secret, signature_header
from tests._infra.ports import free_port
from tests.integration.webhooks._orders import LIFECYCLE, OrderEvents
from tests.integration.webhooks._support import Running, eventually

ROOT = Path(__file__).resolve().parents[3]


def receiver_source() -> str:
    """The ```python block of docs/webhooks.md that is receiver.py."""
    text = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    blocks = text.split("```python\n")[1:]
    return next(block.split("\n```", 1)[0] for block in blocks if block.startswith('"""receiver.py'))


@pytest.fixture
def receiver_port() -> int:
    return free_port()


def _start(tmp_path: Path, port: int, secrets: str) -> subprocess.Popen[str]:
    script = tmp_path / "receiver.py"
    script.write_text(receiver_source(), encoding="utf-8")
    env = {"MES_WEBHOOK_SECRETS": secrets, "RECEIVER_DB": str(tmp_path / "receiver.db"), "PORT": str(port)}
    return subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture
def stop_later() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _orders(db: Path) -> dict[str, tuple[str, str, int]]:
    with sqlite3.connect(db) as conn:
        return {row[0]: (row[1], row[2], row[3]) for row in conn.execute("SELECT * FROM orders")}


async def test_the_guides_receiver_applies_every_change_once(
    make_webhooks, orders: OrderEvents, tmp_path: Path, receiver_port: int, stop_later: list[subprocess.Popen[str]]
) -> None:
    webhooks: Running = await make_webhooks()
    name, secret = await webhooks.endpoint("acme", f"http://127.0.0.1:{receiver_port}/hooks")
    process = _start(tmp_path, receiver_port, secret)
    stop_later.append(process)
    assert process.stdout is not None
    assert json.loads(await asyncio.to_thread(process.stdout.readline)) == {"listening": receiver_port}
    order_ids = [str(uuid.uuid4()) for _ in range(4)]
    for index, order_id in enumerate(order_ids):
        await orders.lifecycle(order_id, "acme", f"PO-{index}")

    async def delivered() -> bool:
        found = await webhooks.deliveries(name, pb.WEBHOOK_DELIVERY_STATE_DELIVERED)
        return len(found) == len(order_ids) * len(LIFECYCLE)

    await eventually(delivered, what="every change delivered to the guide's receiver")
    db = tmp_path / "receiver.db"
    assert _orders(db) == {order_id: (f"PO-{i}", "SHIPPED", 5) for i, order_id in enumerate(order_ids)}

    # A repeat (same webhook-id) and a stale change (older version, new id) change nothing;
    # a forged call (another secret) is refused.
    sent = (await webhooks.deliveries(name, pb.WEBHOOK_DELIVERY_STATE_DELIVERED))[-1]  # the oldest
    stale = json.loads(sent.payload)
    stale["data"]["toStatus"] = "ON_HOLD"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{receiver_port}") as client:
        repeat = await _post(client, secret, sent.delivery_id, sent.payload.encode())
        older = await _post(client, secret, "msg_stale", json.dumps(stale).encode())
        forged = await _post(client, new_secret(), "msg_forged", sent.payload.encode())
    assert (repeat, older, forged) == (204, 204, 401)
    assert _orders(db) == {order_id: (f"PO-{i}", "SHIPPED", 5) for i, order_id in enumerate(order_ids)}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM seen").fetchone()[0] == len(order_ids) * len(LIFECYCLE) + 1


async def _post(client: httpx.AsyncClient, secret: str, webhook_id: str, body: bytes) -> int:
    now = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header([secret], webhook_id, now, body),
    }
    return (await client.post("/hooks", content=body, headers=headers)).status_code
