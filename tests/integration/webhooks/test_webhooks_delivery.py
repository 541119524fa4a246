"""Deliveries end to end: order events on a real nats-server -> the service's consumer and
dispatcher -> a receiver on loopback that verifies every signature (``standardwebhooks``).

Every status change is delivered exactly once in effect (the receiver deduplicates by
``webhook-id``, the same on every retry), the changes of one order reach an endpoint in
version order, and a receiver that hangs does not hold up the others.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from mes.webhooks.v1 import webhooks_pb2 as pb
from tests.integration.webhooks._orders import LIFECYCLE, OrderEvents
from tests.integration.webhooks._receiver import Receiver
from tests.integration.webhooks._support import Running, eventually


def _by_order(payloads: list[dict[str, object]]) -> dict[str, list[int]]:
    versions: dict[str, list[int]] = defaultdict(list)
    for payload in payloads:
        data = payload["data"]
        assert isinstance(data, dict)
        versions[str(data["orderId"])].append(int(data["orderVersion"]))
    return versions


async def test_every_status_change_reaches_a_flaky_receiver_once_in_effect_and_in_order(
    make_webhooks, orders: OrderEvents, receiver: Receiver
) -> None:
    webhooks: Running = await make_webhooks()
    name, secret = await webhooks.endpoint("acme", receiver.url("/acme"))
    route = receiver.route("/acme", [secret], fail_before=0.25, fail_after=0.15, seed=7)
    order_ids = [str(uuid.uuid4()) for _ in range(12)]
    for index, order_id in enumerate(order_ids):
        await orders.lifecycle(order_id, "acme", f"PO-{index}")
    expected = len(order_ids) * len(LIFECYCLE)

    await eventually(lambda: _count(route.processed, expected), what="every change processed")
    await eventually(lambda: _all_delivered(webhooks, name, expected), what="every delivery DELIVERED", timeout=30)

    assert route.bad_signatures == 0
    assert sum(route.duplicates.values()) > 0  # the receiver failed after processing: retried, same id
    assert all(webhook_id in route.seen for webhook_id in route.duplicates)
    versions = _by_order(route.payloads())
    assert sorted(versions) == sorted(order_ids)
    assert all(v == [1, 2, 3, 4, 5] for v in versions.values())  # per order: in version order
    first = route.processed[0].payload
    assert first["type"] == "order.status_changed"
    assert first["schema"] == "mes.webhooks.order_status_changed/v1"
    data = first["data"]
    assert data["fromStatus"] is None and data["toStatus"] == "SUBMITTED"
    assert data["partnerReference"].startswith("PO-")
    later = [p["data"] for p in route.payloads() if p["data"]["orderVersion"] == 3]
    assert {d["fromStatus"] for d in later} == {"ACCEPTED"}
    assert {d["partnerReference"] for d in later} == {f"PO-{i}" for i in range(len(order_ids))}


async def _count(items: list[object], expected: int) -> bool:
    return len(items) >= expected


async def _all_delivered(webhooks: Running, parent: str, expected: int) -> bool:
    found = await webhooks.deliveries(parent)
    return len(found) == expected and all(d.state == pb.WEBHOOK_DELIVERY_STATE_DELIVERED for d in found)
