"""Retention: delivered deliveries and log entries go after ``RETENTION_DAYS``; dead letters stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from mes.webhooks.v1 import webhooks_pb2 as pb
from mes_kernel.clock import utcnow
from services.webhooks.service_layer.retention import DeliveryRetention, RetentionSettings
from tests.integration.webhooks._orders import OrderEvents
from tests.integration.webhooks._receiver import Receiver
from tests.integration.webhooks._support import Running, eventually


async def test_old_delivered_deliveries_and_log_entries_are_purged_and_dead_letters_kept(
    make_webhooks, orders: OrderEvents, receiver: Receiver
) -> None:
    webhooks: Running = await make_webhooks(MES_WEBHOOKS_RETRY_FOR_S="0.2")
    good, good_secret = await webhooks.endpoint("acme", receiver.url("/good"))
    bad, bad_secret = await webhooks.endpoint("globex", receiver.url("/bad"))
    receiver.route("/good", [good_secret])
    receiver.route("/bad", [bad_secret], status=500)
    await orders.lifecycle(str(uuid.uuid4()), "acme", "PO-1", steps=3)
    await orders.lifecycle(str(uuid.uuid4()), "globex", "PO-2", steps=1)

    async def settled() -> bool:
        delivered = await webhooks.deliveries(good, pb.WEBHOOK_DELIVERY_STATE_DELIVERED)
        dead = await webhooks.deliveries(bad, pb.WEBHOOK_DELIVERY_STATE_DEAD)
        return len(delivered) == 3 and len(dead) == 1

    await eventually(settled, what="3 delivered, 1 dead letter")
    uows = webhooks.service.handles.uows
    today = await DeliveryRetention(uows, RetentionSettings(batch=2)).purge_once()
    assert today == {"deliveries": 0, "log": 0, "order_refs": 0}

    later = DeliveryRetention(uows, RetentionSettings(batch=2), clock=lambda: utcnow() + timedelta(days=31))
    purged = await later.purge_once()
    assert purged["deliveries"] == 3 and purged["log"] >= 5 and purged["order_refs"] == 0
    assert await webhooks.deliveries(good) == []
    assert [d.state for d in await webhooks.deliveries(bad)] == [pb.WEBHOOK_DELIVERY_STATE_DEAD]
    assert await webhooks.log(good) == [] and await webhooks.log(bad) == []
    next_year = DeliveryRetention(uows, clock=lambda: utcnow() + timedelta(days=366))
    assert (await next_year.purge_once())["order_refs"] == 2
