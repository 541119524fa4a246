"""``mes events``: a dead letter listed, its cause fixed, replayed and applied; then every
event re-published after the duplicate window, and no effect applied twice."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mes.common.v1 import common_pb2
from mes.inventory.v1 import inventory_pb2 as inv
from mes.orders.v1 import orders_pb2 as ords
from mes.production.v1 import production_events_pb2 as prod_ev
from mes_contracts.events import WORK_ORDERS_CANCELLED
from mes_platform.messaging.connection import connect_nats
from mes_platform.outbox import new_event_meta
from mes_stack.__main__ import run
from tests.integration.saga.saga_stack import RING_MG, SERVICES, SVC, SagaStack, T, eventually, start_stack

GHOST = "ghost-order-1"
PLATINUM = "PT950"


async def mes(*argv: str) -> tuple[int, Any]:
    """``mes ARGV -o json`` (in a worker thread: the command runs its own event loop)."""
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run, [*argv, "-o", "json"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    return code, json.loads(out.getvalue())


async def consumers_idle(stack: SagaStack) -> bool:
    for app in stack.apps:
        for consumer in stack.consumers(app):
            info = await app.messaging.conn.js.consumer_info(consumer.stream, consumer.durable)
            if info.num_pending or info.num_ack_pending:
                return False
    return True


def duplicates(stack: SagaStack) -> int:
    return sum(c.outcomes.get("duplicate", 0) for app in stack.apps for c in stack.consumers(app))


async def snapshot(stack: SagaStack, order_id: str) -> tuple[Any, ...]:
    history = [(c.to_status, c.cause) for c in await stack.history(order_id)]
    reservations = [(r.reservation_id, r.state) for r in await stack.reservations(order_id)]
    work_orders = [(w.work_order_id, w.status) for w in await stack.work_orders(order_id)]
    lots = sorted((lot.lot_id, lot.on_hand_mg, lot.reserved_mg) for lot in await stack.lots())
    custody = sorted(e.entry_id for e in await stack.custody(order_id))
    return history, reservations, work_orders, lots, custody


@pytest.mark.parametrize("db_urls", ["sqlite"], indirect=True)
async def test_dead_letter_replay_and_republish(db_urls: dict[str, str], nats_url: str, tmp_path: Path) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    extra = {"CONSUMER_MAX_DELIVER": "1", "STREAM_DUPLICATE_WINDOW_S": "0.5"}
    stack = await start_stack(db_urls, nats_url, str(tmp_path), extra=extra)
    try:
        await stack.seed(metal_mg=RING_MG)
        order_id = await stack.submit()
        await stack.wait_status(order_id, ords.ORDER_STATUS_IN_PRODUCTION)

        # Production hands back platinum, an alloy inventory does not know: dead letter.
        event = prod_ev.WorkOrdersCancelledEvent(
            meta=new_event_meta("production"),
            order_id=GHOST,
            returned=[
                common_pb2.MaterialRequirement(
                    material_code=PLATINUM, kind=common_pb2.MATERIAL_KIND_METAL, weight_mg=2_000
                )
            ],
        )
        conn = await connect_nats(nats_url, name="saga-test", initial_timeout_s=5)
        try:
            await conn.js.publish(WORK_ORDERS_CANCELLED.subject, event.SerializeToString(), timeout=T)
        finally:
            await conn.close()
        db = ["--service", "inventory", "--database-url", db_urls["inventory"]]

        async def letters() -> list[dict[str, Any]]:
            return list((await mes("events", "dead-letters", "list", *db))[1])

        [letter] = await eventually(letters, what="the dead letter")
        assert (letter["consumer"], letter["subject"], letter["event_id"]) == (
            "inventory-production-events",
            WORK_ORDERS_CANCELLED.subject,
            event.meta.event_id,
        )
        assert "UNKNOWN_ALLOY" in letter["error"] or "not known" in letter["error"]
        _, shown = await mes("events", "dead-letters", "show", *db, str(letter["id"]))
        assert shown["event_id"] == event.meta.event_id

        # Fix the cause, replay: the metal comes back as a new platinum lot.
        alloy = inv.Alloy(
            code=PLATINUM, metal=inv.METAL_PLATINUM, fineness=950, colour="white", display_name="Pt 950", active=True
        )
        await stack.inventory.UpsertAlloy(inv.UpsertAlloyRequest(alloy=alloy), metadata=SVC, timeout=T)
        _, [replayed] = await mes("events", "dead-letters", "replay", *db, "--nats-url", nats_url, str(letter["id"]))
        assert replayed["msg_id"] == f"{event.meta.event_id}:replay:1"

        async def platinum() -> list[int]:
            return [lot.on_hand_mg for lot in await stack.lots() if lot.material_code == PLATINUM]

        assert await eventually(platinum, what="the platinum lot") == [2_000]
        assert await letters() == []
        _, everything = await mes("events", "dead-letters", "list", *db, "--all")
        assert [d["replayed_at"] is not None for d in everything] == [True]

        # Re-publish every event of every service once JetStream's duplicate window is over:
        # consumers see them again and apply none of them a second time.
        await eventually(lambda: consumers_idle(stack), what="the consumers idle")
        before, seen = await snapshot(stack, order_id), duplicates(stack)
        await asyncio.sleep(0.6)  # the (shortened) duplicate window must pass, that is the point
        until = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        total = 0
        for svc in SERVICES:
            _, result = await mes(
                "events", "republish", "--service", svc, "--database-url", db_urls[svc], "--nats-url", nats_url,
                "--since", started.isoformat(), "--until", until,
            )  # fmt: skip
            total += result["published"]
        assert total > 10
        await eventually(lambda: consumers_idle(stack), what="the re-published events consumed")
        assert duplicates(stack) > seen
        assert await snapshot(stack, order_id) == before
        assert await platinum() == [2_000]
    finally:
        await stack.aclose()
