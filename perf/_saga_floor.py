"""The saga's same-run floor: the JetStream messages and inbox/outbox rows the saga writes per
order, written by a minimal nats-py + asyncpg loop with no business logic.

A real drain gives the counts (``perf/_drain.py``): outbox rows per order by subject, and the
consumers of each subject (the services' declared consumers). Per order the floor then runs a
chain of messages whose fan-outs are those of the saga: a message with fan-out f is delivered
to f durable consumers (``floor-c1``..``floor-c3``, the first f), each writing its inbox row in
one transaction per fetched batch; ``floor-c1`` also writes the order's next outbox row(s) in
that transaction (fan-out 0 rows, like events no one consumes, ride along), commits, publishes
them with ``publish_async`` (``Nats-Msg-Id`` = event id, PubAcks awaited together), marks them
published, then acks its batch. Payloads have the saga's mean size. Tables: ``floor.outbox``
and ``floor.inbox``, shaped and indexed as the services' own.

    python -m perf._saga_floor --dsn URL --nats URL --plan PLAN_JSON   (one worker process)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

__all__ = ["SCHEMA_SQL", "FloorPlan", "chain_of", "main", "preload", "prepare"]

STREAM = "FLOOR"
SCHEMA_SQL = """
DROP SCHEMA IF EXISTS floor CASCADE;
CREATE SCHEMA floor;
CREATE TABLE floor.outbox (seq bigserial PRIMARY KEY, event_id varchar(36) NOT NULL UNIQUE,
    subject varchar(120) NOT NULL, payload bytea NOT NULL, headers text NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL, published_at timestamptz, attempts integer NOT NULL DEFAULT 0);
CREATE INDEX ix_floor_outbox_unpublished ON floor.outbox (published_at, seq);
CREATE INDEX ix_floor_outbox_created ON floor.outbox (created_at);
CREATE TABLE floor.inbox (consumer varchar(80) NOT NULL, event_id varchar(36) NOT NULL,
    subject varchar(120) NOT NULL, processed_at timestamptz NOT NULL, PRIMARY KEY (consumer, event_id));
CREATE INDEX ix_floor_inbox_processed ON floor.inbox (processed_at);
"""


@dataclass(frozen=True)
class FloorPlan:
    """One order's chain: the fan-out of each chained message, and how many fan-out-0 rows ride along."""

    fanouts: tuple[int, ...]
    riders: tuple[int, ...]
    payload_bytes: int

    @property
    def outbox_rows(self) -> int:
        return len(self.fanouts) + sum(self.riders)

    @property
    def inbox_rows(self) -> int:
        return sum(self.fanouts)


def chain_of(
    outbox_per_order: dict[str, float], consumers: dict[str, int], payload_bytes: int, *, first: int
) -> FloorPlan:
    """The chain of an average order: its submission (fan-out ``first``, written at intake), then the
    saga's outbox rows per order while it drains, with each subject's fan-out."""
    by_fanout: dict[int, float] = {}
    for subject, n in outbox_per_order.items():
        f = min(3, consumers.get(subject, 0))
        by_fanout[f] = by_fanout.get(f, 0.0) + n
    rest = sorted((f for f in (1, 2, 3) for _ in range(round(by_fanout.get(f, 0.0)))), key=lambda f: -f)
    fanouts = [max(1, min(3, first)), *rest]
    riders_total = round(by_fanout.get(0, 0.0))
    riders = [riders_total // len(fanouts) + (1 if i < riders_total % len(fanouts) else 0) for i in range(len(fanouts))]
    return FloorPlan(tuple(fanouts), tuple(riders), payload_bytes)


def _subject(order: int, step: int, fanout: int) -> str:
    return f"floor.f{fanout}.{order}.{step}"


async def prepare(dsn: str, nats_url: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA_SQL)
    finally:
        await conn.close()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        with contextlib.suppress(Exception):  # absent on the first run
            await js.delete_stream(STREAM)
        await js.add_stream(StreamConfig(name=STREAM, subjects=["floor.>"]))
        for k in (1, 2, 3):
            filters = [f"floor.f{f}.>" for f in (1, 2, 3) if f >= k]
            config = ConsumerConfig(
                durable_name=f"floor-c{k}",
                ack_policy=AckPolicy.EXPLICIT,
                filter_subjects=filters,
                max_ack_pending=1000,
                ack_wait=30,
            )
            await js.add_consumer(STREAM, config)
    finally:
        await nc.close()


async def _publish(js: Any, conn: asyncpg.Connection, rows: list[tuple[int, str, str, bytes]]) -> None:
    """Publish outbox rows (seq, event id, subject, payload), await the PubAcks, mark them published."""
    futures = [
        await js.publish_async(subject, payload, headers={"Nats-Msg-Id": event_id})
        for _, event_id, subject, payload in rows
    ]
    await asyncio.gather(*futures)
    await conn.execute(
        "UPDATE floor.outbox SET published_at = now(), attempts = attempts + 1 WHERE seq = ANY($1::bigint[])",
        [r[0] for r in rows],
    )


async def _write(conn: asyncpg.Connection, rows: list[tuple[str, str, bytes]]) -> list[tuple[int, str, str, bytes]]:
    if not rows:
        return []
    seqs = await conn.fetch(
        "INSERT INTO floor.outbox (event_id, subject, payload, created_at)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], array_fill(now(), ARRAY[$4::int]))"
        " RETURNING seq, event_id",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        len(rows),
    )
    by_id = {r["event_id"]: int(r["seq"]) for r in seqs}
    return [(by_id[e], e, s, p) for e, s, p in rows]


def _next_rows(plan: FloorPlan, order: int, step: int) -> list[tuple[str, str, bytes]]:
    """The outbox rows written when step ``step`` of ``order`` is handled: the next chained message
    and its riders (step -1: the first, at submission)."""
    nxt = step + 1
    if nxt >= len(plan.fanouts):
        return []
    payload = os.urandom(plan.payload_bytes)
    rows = [(str(uuid.uuid4()), _subject(order, nxt, plan.fanouts[nxt]), payload)]
    rows += [(str(uuid.uuid4()), f"floor.f0.{order}.{nxt}.{i}", payload) for i in range(plan.riders[nxt])]
    return rows


async def preload(dsn: str, nats_url: str, plan: FloorPlan, orders: int) -> None:
    """Submission: each order's first message written and published (workers not running yet)."""
    conn = await asyncpg.connect(dsn)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for start in range(0, orders, 200):
            async with conn.transaction():
                rows = await _write(
                    conn, [r for o in range(start, min(orders, start + 200)) for r in _next_rows(plan, o, -1)]
                )
            await _publish(js, conn, rows)
    finally:
        await nc.close()
        await conn.close()


async def _consume(js: Any, pool: asyncpg.Pool, plan: FloorPlan, k: int, stop: asyncio.Event) -> None:
    sub = await js.pull_subscribe_bind(durable=f"floor-c{k}", stream=STREAM)
    while not stop.is_set():
        try:
            msgs = await sub.fetch(50, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        async with pool.acquire() as conn:
            async with conn.transaction():
                ids = [m.headers.get("Nats-Msg-Id", "") if m.headers else "" for m in msgs]
                await conn.execute(
                    "INSERT INTO floor.inbox (consumer, event_id, subject, processed_at)"
                    " SELECT $1, e, s, now() FROM unnest($2::text[], $3::text[]) AS t(e, s) ON CONFLICT DO NOTHING",
                    f"floor-c{k}",
                    ids,
                    [m.subject for m in msgs],
                )
                rows: list[tuple[str, str, bytes]] = []
                if k == 1:
                    for m in msgs:
                        _, _, order, step = m.subject.split(".")[:4]
                        rows += _next_rows(plan, int(order), int(step))
                written = await _write(conn, rows)
            if written:
                await _publish(js, conn, written)
        for m in msgs:
            await m.ack()


async def work(dsn: str, nats_url: str, plan: FloorPlan, seconds: float) -> None:
    """One worker process: the three consumers until ``seconds`` pass (the coordinator stops it earlier)."""
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=6)
    nc = await nats.connect(nats_url)
    stop = asyncio.Event()
    try:
        js = nc.jetstream()
        tasks = [asyncio.create_task(_consume(js, pool, plan, k, stop)) for k in (1, 2, 3)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await nc.close()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--plan", required=True, help="FloorPlan as JSON")
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    raw = json.loads(args.plan)
    plan = FloorPlan(tuple(raw["fanouts"]), tuple(raw["riders"]), int(raw["payload_bytes"]))
    asyncio.run(work(args.dsn, args.nats, plan, args.seconds))  # the default loop, as the services run


if __name__ == "__main__":
    main()
