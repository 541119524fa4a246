"""``mes events`` against a service's real database (its own migrations and tables) and a real
nats-server: listing, showing and replaying dead letters, re-publishing a time range, and the
exit codes of unknown ids, a missing NATS and an unreachable one."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import ORDER_SUBMITTED, RESERVATION_HELD
from mes_platform.admin import events as admin_events
from mes_platform.db import Database
from mes_platform.messaging import connect_nats, ensure_streams
from mes_platform.messaging.deadletters import REPLAY_OF_HEADER, record_dead_letter
from mes_platform.migrations import upgrade
from mes_platform.outbox import OutboxWriter, new_event_meta
from mes_stack.__main__ import run
from services.orders.bootstrap import SPEC as ORDERS
from tests._infra.nats import NatsServer
from tests._infra.ports import free_port

INVENTORY_EVENTS = "orders-inventory-events"


@dataclass(frozen=True)
class OrdersDb:
    """The orders service's database, migrated, and the flags that point ``mes events`` at it."""

    db: Database
    flags: tuple[str, ...]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def orders_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OrdersDb]:
    if request.param == "sqlite":
        url, schema = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}", ORDERS.name
        flags: tuple[str, ...] = ("--service", "orders", "--database-url", url)
    else:  # a schema of its own, named by the flag
        make_pg_database: Callable[..., str] = request.getfixturevalue("make_pg_database")
        url, schema = make_pg_database(), "orders_blue"
        flags = ("--service", "orders", "--database-url", url, "--database-schema", schema)
    await upgrade(ORDERS.migrations, url, schema)
    db = Database(url, schema=schema, pool_size=1)
    yield OrdersDb(db, flags)
    await db.dispose()


@pytest.fixture(autouse=True)
def no_nats_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NATS_URL", "MES_NATS_URL", "MES_ORDERS_NATS_URL"):
        monkeypatch.delenv(name, raising=False)


async def mes(*argv: str, expect: int = 0) -> tuple[str, str]:
    """``mes events ARGV`` (in a worker thread: the command runs its own event loop)."""
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run, ["events", *argv], stdout=out, stderr=err)
    assert code == expect, err.getvalue()
    return out.getvalue(), err.getvalue()


async def mes_json(*argv: str, expect: int = 0) -> Any:
    return json.loads((await mes(*argv, "-o", "json", expect=expect))[0])


def submitted(order_id: str) -> orders_events_pb2.OrderSubmittedEvent:
    event = orders_events_pb2.OrderSubmittedEvent(order=orders_pb2.Order(order_id=order_id))
    event.meta.CopyFrom(new_event_meta("orders"))
    return event


async def dead_letter(db: Database, consumer: str, subject: str, event_id: str, error: str) -> int:
    async with db.write() as session:
        return await record_dead_letter(
            session,
            ORDERS.infra.dead_letters,
            consumer=consumer,
            event_id=event_id,
            subject=subject,
            payload=submitted(event_id).SerializeToString(),
            headers={"Nats-Msg-Id": event_id, "traceparent": "00-x"},
            error=error,
            deliveries=5,
        )


async def test_list_and_show_dead_letters(orders_db: OrdersDb) -> None:
    db, flags = orders_db.db, orders_db.flags
    first = await dead_letter(db, INVENTORY_EVENTS, RESERVATION_HELD.subject, "e-1", "KeyError: 'x'\n  File a.py")
    second = await dead_letter(db, INVENTORY_EVENTS, RESERVATION_HELD.subject, "e-2", "ValueError: y")
    third = await dead_letter(db, "orders-production-events", ORDER_SUBMITTED.subject, "e-3", "DecodeError: z")
    async with db.write() as session:
        table = ORDERS.infra.dead_letters
        await session.execute(update(table).where(table.c.id == second).values(replayed_at=datetime.now(UTC)))

    text, _ = await mes("dead-letters", "list", *flags)
    header, _rule, *rows = text.splitlines()
    assert header.split()[:3] == ["ID", "CONSUMER", "SUBJECT"]
    assert [int(row.split()[0]) for row in rows] == [first, third]
    assert rows[0].endswith("KeyError: 'x'")
    letters = await mes_json("dead-letters", "list", *flags, "--all")
    assert [(d["id"], d["event_id"], d["replayed_at"] is not None) for d in letters] == [
        (first, "e-1", False),
        (second, "e-2", True),
        (third, "e-3", False),
    ]
    assert letters[0]["headers"] == {"Nats-Msg-Id": "e-1", "traceparent": "00-x"}
    assert [d["id"] for d in await mes_json("dead-letters", "list", *flags, "--consumer", INVENTORY_EVENTS)] == [first]
    paged = await mes_json("dead-letters", "list", *flags, "--all", "--after-id", str(first), "--limit", "1")
    assert [d["id"] for d in paged] == [second]

    text, _ = await mes("dead-letters", "show", *flags, str(first))
    assert "event id:   e-1" in text and f"consumer:   {INVENTORY_EVENTS}" in text
    assert text.endswith("\n\nKeyError: 'x'\n  File a.py\n")
    shown = await mes_json("dead-letters", "show", *flags, str(third))
    assert (shown["subject"], shown["deliveries"], shown["error"]) == (ORDER_SUBMITTED.subject, 5, "DecodeError: z")
    out, err = await mes("dead-letters", "show", *flags, "99", expect=1)
    assert (out, err) == ("", "error: NOT_FOUND: dead letter 99 does not exist\n")


@pytest.mark.parametrize("orders_db", ["sqlite"], indirect=True)
async def test_replay_and_republish_on_nats(
    orders_db: OrdersDb, make_nats_server: Callable[..., NatsServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, flags = orders_db.db, orders_db.flags
    server = make_nats_server()
    conn = await connect_nats(server.url, name="admin-test", initial_timeout_s=5)
    try:
        await ensure_streams(conn.js)
        letter = await dead_letter(db, INVENTORY_EVENTS, ORDER_SUBMITTED.subject, "e-9", "RuntimeError: down")
        _, err = await mes("dead-letters", "replay", *flags, str(letter), expect=2)
        assert err == "mes: error: no NATS: pass --nats-url or set NATS_URL (or MES_ORDERS_NATS_URL)\n"

        nats = ("--nats-url", str(server.url))
        [replayed] = await mes_json("dead-letters", "replay", *flags, *nats, str(letter))
        assert replayed == {"id": letter, "msg_id": "e-9:replay:1", "stream": "ORDERS", "seq": 1, "duplicate": False}
        message = await conn.js.get_last_msg("ORDERS", ORDER_SUBMITTED.subject)
        assert message.headers is not None and message.headers[REPLAY_OF_HEADER] == str(letter)
        assert ORDER_SUBMITTED.decode(message.data).order.order_id == "e-9"
        assert await mes_json("dead-letters", "list", *flags) == []

        # The second id is unknown: the first is replayed and shown, the command fails.
        out, err = await mes("dead-letters", "replay", *flags, *nats, str(letter), "99", "-o", "json", expect=1)
        assert [r["msg_id"] for r in json.loads(out)] == ["e-9:replay:2"]
        assert err == "error: NOT_FOUND: dead letter 99 does not exist\n"

        writer = OutboxWriter(ORDERS.infra.outbox, "orders")
        for order_id in ("o-1", "o-2", "o-3"):
            async with db.write() as session:
                await writer.add(session, ORDER_SUBMITTED, submitted(order_id))
        now = datetime.now(UTC)
        since, until = (now - timedelta(minutes=5)).isoformat(), (now + timedelta(minutes=5)).isoformat()
        window = ("--since", since, "--until", until)
        result = await mes_json("republish", *flags, *nats, *window)
        assert result == {"service": "orders", "since": since, "until": until, "published": 3}
        info = await conn.js.stream_info("ORDERS")
        assert info.state.messages == 2 + 3
        text, _ = await mes("republish", *flags, *nats, "--since", "2020-01-01", "--until", "2020-01-02")
        assert text == "re-published 0 orders event(s) created in [2020-01-01 00:00:00Z, 2020-01-02 00:00:00Z)\n"
    finally:
        await conn.close()

    # Nothing listens on the port: UNAVAILABLE (exit 3) once the connect timeout passes.
    monkeypatch.setattr(admin_events, "NATS_TIMEOUT_S", 0.3)
    port = free_port()
    out, err = await mes("republish", *flags, "--nats-url", f"nats://127.0.0.1:{port}", *window, expect=3)
    assert err == f"error: UNAVAILABLE: NATS at nats://127.0.0.1:{port} did not answer within 0.3 s\n"
    assert "re-published 0 orders event(s)" in out
