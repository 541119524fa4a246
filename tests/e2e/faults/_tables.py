"""Reads of the services' infrastructure tables (superuser on the test database): inbox,
dead letters, outbox, and the orders' status history."""

from __future__ import annotations

import asyncpg

from mes_platform.provision import SERVICES


async def infra_counts(admin_db_dsn: str) -> tuple[int, int, int, list[tuple[str, str, int, str]]]:
    """(inbox rows, dead letters, unpublished outbox rows, dead-letter rows) over the three schemas."""
    conn = await asyncpg.connect(admin_db_dsn, timeout=10)
    try:
        inbox = dead = unpublished = 0
        rows: list[tuple[str, str, int, str]] = []
        for schema in SERVICES:
            inbox += await conn.fetchval(f'SELECT count(*) FROM "{schema}".inbox')
            unpublished += await conn.fetchval(f'SELECT count(*) FROM "{schema}".outbox WHERE published_at IS NULL')
            for r in await conn.fetch(f'SELECT consumer, subject, deliveries, error FROM "{schema}".dead_letters'):
                rows.append((r["consumer"], r["subject"], int(r["deliveries"]), str(r["error"])[:120]))
        dead = len(rows)
        return inbox, dead, unpublished, rows
    finally:
        await conn.close()


async def undelivered(admin_db_dsn: str, filters: dict[str, list[str]]) -> dict[str, int]:
    """Per consumer: events the services wrote on its subjects that are not in its inbox.

    Every outbox event must reach every consumer of its subject exactly once: the inbox key
    makes it at most once, this makes it at least once. Dead-lettered events count here too.
    """
    outboxes = " UNION ALL ".join(f'SELECT event_id, subject FROM "{schema}".outbox' for schema in SERVICES)
    conn = await asyncpg.connect(admin_db_dsn, timeout=10)
    try:
        missing: dict[str, int] = {}
        for consumer, subjects in filters.items():
            schema = consumer.split("-", 1)[0]
            count = await conn.fetchval(
                f"""
                SELECT count(*) FROM ({outboxes}) AS o
                WHERE o.subject = ANY($1::text[]) AND NOT EXISTS (
                    SELECT 1 FROM "{schema}".inbox AS i WHERE i.consumer = $2 AND i.event_id = o.event_id
                )
                """,
                subjects,
                consumer,
            )
            if count:
                missing[consumer] = int(count)
        return missing
    finally:
        await conn.close()


async def outbox_rows(admin_db_dsn: str) -> int:
    """Events written by the three services (each published once at least)."""
    conn = await asyncpg.connect(admin_db_dsn, timeout=10)
    try:
        return sum([int(await conn.fetchval(f'SELECT count(*) FROM "{schema}".outbox')) for schema in SERVICES])
    finally:
        await conn.close()


async def duplicate_transitions(admin_db_dsn: str) -> int:
    """Transitions recorded more than once in an order's status history (the orders schema)."""
    conn = await asyncpg.connect(admin_db_dsn, timeout=10)
    try:
        value = await conn.fetchval(
            """
            SELECT coalesce(sum(n - 1), 0) FROM (
                SELECT count(*) AS n FROM orders.order_status_changes
                GROUP BY order_id, from_status, to_status HAVING count(*) > 1
            ) AS dupes
            """
        )
        return int(value)
    finally:
        await conn.close()
