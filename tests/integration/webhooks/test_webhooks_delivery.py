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
from tests.integration.webhooks._support import STAFF, Running, T, acting, eventually


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


async def test_a_hanging_receiver_does_not_hold_up_another_partners_endpoint(
    make_webhooks, orders: OrderEvents, receiver: Receiver
) -> None:
    webhooks: Running = await make_webhooks(MES_WEBHOOKS_REQUEST_TIMEOUT_S="30", MES_WEBHOOKS_READ_TIMEOUT_S="30")
    _, slow_secret = await webhooks.endpoint("slowco", receiver.url("/slow"))
    fast_name, fast_secret = await webhooks.endpoint("acme", receiver.url("/fast"))
    slow = receiver.route("/slow", [slow_secret], hang=True)
    fast = receiver.route("/fast", [fast_secret])
    for index in range(10):
        await orders.lifecycle(str(uuid.uuid4()), "slowco", f"S-{index}", steps=2)
    await eventually(lambda: _true(slow.in_progress >= 4), what="the slow endpoint's lane full")
    for index in range(15):
        await orders.lifecycle(str(uuid.uuid4()), "acme", f"F-{index}", steps=2)

    await eventually(lambda: _all_delivered(webhooks, fast_name, 30), what="every fast delivery DELIVERED")
    assert len(fast.processed) == 30
    assert slow.in_progress == 4  # still hanging: its lane (4 wide) is full, nothing else of it was sent
    assert slow.processed == []


async def test_deliveries_kept_while_disabled_are_sent_oldest_first_when_enabled(
    make_webhooks, orders: OrderEvents, receiver: Receiver
) -> None:
    webhooks: Running = await make_webhooks(MES_WEBHOOKS_PER_ENDPOINT="1")
    name, secret = await webhooks.endpoint("acme", receiver.url("/acme"))
    route = receiver.route("/acme", [secret])
    await webhooks.stub.DisableWebhookEndpoint(
        pb.DisableWebhookEndpointRequest(name=name, reason="maintenance"), metadata=acting("acme"), timeout=T
    )
    order_ids = [str(uuid.uuid4()) for _ in range(6)]
    for index, order_id in enumerate(order_ids):
        await orders.lifecycle(order_id, "acme", f"PO-{index}", steps=2)
    await eventually(lambda: _states(webhooks, name, pb.WEBHOOK_DELIVERY_STATE_HELD, 12), what="12 deliveries HELD")
    assert route.attempts == []

    reply = await webhooks.stub.EnableWebhookEndpoint(
        pb.EnableWebhookEndpointRequest(name=name), metadata=acting("acme"), timeout=T
    )
    assert reply.resumed_deliveries == 12
    await eventually(lambda: _count(route.processed, 12), what="the kept deliveries")
    sent = [(p["data"]["orderId"], p["data"]["orderVersion"]) for p in route.payloads()]
    assert sorted(sent) == sorted((order_id, version) for order_id in order_ids for version in (1, 2))
    # Oldest first: each attempt takes the oldest kept delivery that may go (the next change of
    # an order waits until the previous one was settled), so the orders come in the order they
    # were kept, and each order's changes in version order.
    assert list(dict.fromkeys(order_id for order_id, _ in sent)) == order_ids
    assert all(_by_order(route.payloads())[order_id] == [1, 2] for order_id in order_ids)
    assert [attempt_id for attempt_id, _ in route.attempts] == [d.webhook_id for d in route.processed]
    kinds = [entry.kind for entry in await webhooks.log(name)]
    assert pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_DISABLED in kinds
    assert pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_ENABLED in kinds


async def test_dead_letters_are_replayed_with_the_same_webhook_id(
    make_webhooks, orders: OrderEvents, receiver: Receiver
) -> None:
    webhooks: Running = await make_webhooks(MES_WEBHOOKS_RETRY_FOR_S="0.5")
    name, secret = await webhooks.endpoint("acme", receiver.url("/acme"))
    route = receiver.route("/acme", [secret], status=500)
    await orders.lifecycle(str(uuid.uuid4()), "acme", "PO-1", steps=3)
    dead = await eventually(lambda: _states(webhooks, name, pb.WEBHOOK_DELIVERY_STATE_DEAD, 3), what="3 dead letters")
    assert all(d.attempts >= 2 and d.last_http_status == 500 for d in dead)
    tried = {webhook_id for webhook_id, _ in route.attempts}
    assert tried == {d.delivery_id for d in dead}

    route.status = 200
    reply = await webhooks.stub.ReplayWebhookDeliveries(
        pb.ReplayWebhookDeliveriesRequest(parent=name, names=[dead[0].name]), metadata=STAFF, timeout=T
    )
    assert list(reply.names) == [dead[0].name]
    await eventually(lambda: _count(route.processed, 1), what="the replayed delivery")
    assert route.processed[0].webhook_id == dead[0].delivery_id
    reply = await webhooks.stub.ReplayWebhookDeliveries(
        pb.ReplayWebhookDeliveriesRequest(parent=name), metadata=STAFF, timeout=T
    )
    assert len(reply.names) == 2  # the other dead letters
    await eventually(lambda: _all_delivered(webhooks, name, 3), what="every delivery DELIVERED after the replay")
    assert {d.webhook_id for d in route.processed} == {d.delivery_id for d in dead}
    kinds = [entry.kind for entry in await webhooks.log(name)]
    assert kinds.count(pb.WEBHOOK_LOG_ENTRY_KIND_DEAD_LETTER) == 3
    assert kinds.count(pb.WEBHOOK_LOG_ENTRY_KIND_REPLAYED) == 2


async def test_an_endpoint_failing_for_disable_after_is_disabled_and_the_partner_told(
    make_webhooks, orders: OrderEvents, receiver: Receiver
) -> None:
    webhooks: Running = await make_webhooks(MES_WEBHOOKS_DISABLE_AFTER_S="0.5", MES_WEBHOOKS_RETRY_FOR_S="60")
    name, secret = await webhooks.endpoint("acme", receiver.url("/acme"))
    receiver.route("/acme", [secret], status=503)
    await orders.lifecycle(str(uuid.uuid4()), "acme", "PO-1", steps=2)

    async def disabled() -> pb.WebhookEndpoint | None:
        reply = await webhooks.stub.GetWebhookEndpoint(
            pb.GetWebhookEndpointRequest(name=name), metadata=acting("acme"), timeout=T
        )
        return None if reply.endpoint.enabled else reply.endpoint

    endpoint = await eventually(disabled, what="the endpoint disabled")
    assert endpoint.disabled_by == pb.WEBHOOK_DISABLED_BY_FAILURES
    assert "disabled automatically" in endpoint.disabled_reason
    await eventually(lambda: _states(webhooks, name, pb.WEBHOOK_DELIVERY_STATE_HELD, 2), what="its deliveries HELD")
    notices = [e for e in await webhooks.log(name) if e.kind == pb.WEBHOOK_LOG_ENTRY_KIND_ENDPOINT_DISABLED]
    assert len(notices) == 1 and "kept" in notices[0].message
    attempts = [e for e in await webhooks.log(name) if e.kind == pb.WEBHOOK_LOG_ENTRY_KIND_ATTEMPT]
    assert attempts and all(e.http_status == 503 and e.error == "HTTP 503" for e in attempts)


async def test_during_a_rotation_both_secrets_sign_then_only_the_new_one(
    make_webhooks, orders: OrderEvents, receiver: Receiver
) -> None:
    webhooks: Running = await make_webhooks(MES_WEBHOOKS_SECRET_OVERLAP_S="3600")
    name, old = await webhooks.endpoint("acme", receiver.url("/acme"))
    reply = await webhooks.stub.RotateWebhookEndpointSecret(
        pb.RotateWebhookEndpointSecretRequest(name=name), metadata=acting("acme"), timeout=T
    )
    new = reply.secret
    assert new != old and reply.endpoint.HasField("previous_secret_expire_time")
    route = receiver.route("/acme", [old, new])
    await orders.lifecycle(str(uuid.uuid4()), "acme", "PO-1", steps=1)
    await eventually(lambda: _count(route.processed, 1), what="a delivery during the overlap")
    assert route.verified_by == [(0, 1)]  # the old secret and the new one both verify it
    assert len(route.processed[0].headers["webhook-signature"].split(" ")) == 2


async def _true(value: bool) -> bool:
    return value


async def _states(webhooks: Running, parent: str, state: int, expected: int) -> list[pb.WebhookDelivery]:
    found = await webhooks.deliveries(parent, state)
    return found if len(found) == expected else []
