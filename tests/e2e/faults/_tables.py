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


#: (what must hold, a query counting the rows that break it) over the three schemas at rest.
_HISTORY_RULES: tuple[tuple[str, str], ...] = (
    (
        "each order's history runs 1..version, every entry from the previous status",
        """WITH h AS (SELECT version, from_status, lag(to_status) OVER w AS prev, row_number() OVER w AS n
                      FROM orders.order_status_changes WINDOW w AS (PARTITION BY order_id ORDER BY version))
           SELECT count(*) FROM h WHERE n <> version OR from_status IS DISTINCT FROM prev""",
    ),
    (
        "each order's last history entry is its status and version",
        """SELECT count(*) FROM orders.orders o LEFT JOIN orders.order_status_changes c
           ON c.order_id = o.order_id AND c.version = o.version WHERE c.to_status IS DISTINCT FROM o.status""",
    ),
    (
        "an order on hold is on inventory's waiting list, and only then",
        """SELECT count(*) FROM orders.orders o FULL JOIN inventory.waiting_orders w ON w.order_id = o.order_id
           WHERE (o.status = 'ON_HOLD') IS DISTINCT FROM (w.order_id IS NOT NULL)""",
    ),
    (
        "every line of an order in production or later has its work order",
        """SELECT count(*) FROM orders.order_lines l JOIN orders.orders o ON o.order_id = l.order_id
           WHERE o.status IN ('IN_PRODUCTION', 'READY_TO_SHIP', 'SHIPPED') AND NOT EXISTS (
               SELECT 1 FROM production.work_orders w
               WHERE w.order_id = l.order_id AND w.line_number = l.line_number)""",
    ),
    (
        "an order ready or shipped has every work order completed",
        """SELECT count(*) FROM production.work_orders w JOIN orders.orders o ON o.order_id = w.order_id
           WHERE o.status IN ('READY_TO_SHIP', 'SHIPPED') AND w.status NOT IN ('COMPLETED', 'CLOSED')""",
    ),
    (
        "an order in production has work left",
        """SELECT count(*) FROM orders.orders o WHERE o.status = 'IN_PRODUCTION' AND NOT EXISTS (
               SELECT 1 FROM production.work_orders w
               WHERE w.order_id = o.order_id AND w.status NOT IN ('COMPLETED', 'CLOSED', 'CANCELLED'))""",
    ),
    (
        "an open work order has exactly one current operation",
        """SELECT count(*) FROM production.work_orders w WHERE w.status IN ('RELEASED', 'IN_PROGRESS', 'HELD')
           AND (SELECT count(*) FROM production.operations o WHERE o.work_order_id = w.id
                AND o.status IN ('QUEUED', 'IN_PROGRESS', 'PAUSED', 'LOSS_REVIEW', 'REWORK')) <> 1""",
    ),
    (
        "operations before the current one are done, after it pending",
        """SELECT count(*) FROM production.operations o JOIN production.operations c
           ON c.work_order_id = o.work_order_id
              AND c.status IN ('QUEUED', 'IN_PROGRESS', 'PAUSED', 'LOSS_REVIEW', 'REWORK')
           WHERE (o.sequence < c.sequence AND o.status NOT IN ('DONE', 'SKIPPED'))
              OR (o.sequence > c.sequence AND o.status NOT IN ('PENDING', 'SKIPPED'))""",
    ),
    (
        "a released work order has not started, a completed one has every operation done",
        """SELECT count(*) FROM production.work_orders w JOIN production.operations o ON o.work_order_id = w.id
           WHERE (w.status = 'RELEASED' AND o.status IN ('IN_PROGRESS', 'PAUSED', 'DONE', 'LOSS_REVIEW', 'REWORK'))
              OR (w.status IN ('COMPLETED', 'CLOSED') AND o.status NOT IN ('DONE', 'SKIPPED'))""",
    ),
    (
        "no work center has more operations in progress than its capacity",
        """SELECT count(*) FROM (SELECT o.work_center FROM production.operations o
               JOIN production.work_centers c ON c.code = o.work_center WHERE o.status IN ('IN_PROGRESS', 'PAUSED')
               GROUP BY o.work_center, c.capacity HAVING count(*) > c.capacity) AS over""",
    ),
    (
        "a work center that is not blocked is running exactly while one of its operations is in progress",
        """SELECT count(*) FROM production.work_centers c WHERE c.state <> 'BLOCKED'
           AND (c.state = 'RUNNING') <> EXISTS (SELECT 1 FROM production.operations o
               WHERE o.work_center = c.code AND o.status = 'IN_PROGRESS')""",
    ),
    (
        "what the custody ledger issued to an order, net of returns, is what its reservation issued",
        """WITH issued AS (SELECT substr(holder, 8) AS order_id, material_code, sum(weight_mg + pieces) AS q
                           FROM inventory.custody_entries WHERE kind = 'ISSUE' GROUP BY 1, 2),
                returned AS (SELECT substr(reference, 8) AS order_id, material_code, sum(weight_mg + pieces) AS q
                             FROM inventory.custody_entries WHERE kind = 'RETURN' AND reference LIKE 'orders/%'
                             GROUP BY 1, 2),
                held AS (SELECT r.order_id, i.material_code, sum(i.weight_mg + i.pieces) AS q
                         FROM inventory.reservations r JOIN inventory.reservation_items i
                         ON i.reservation_id = r.reservation_id WHERE r.state IN ('COMMITTED', 'CONSUMED')
                         GROUP BY 1, 2),
                net AS (SELECT coalesce(a.order_id, b.order_id) AS order_id,
                               coalesce(a.material_code, b.material_code) AS material_code,
                               coalesce(a.q, 0) - coalesce(b.q, 0) AS q
                        FROM issued a FULL JOIN returned b USING (order_id, material_code))
           SELECT count(*) FROM net FULL JOIN held h USING (order_id, material_code)
           WHERE coalesce(net.q, 0) <> coalesce(h.q, 0)""",
    ),
    (
        "every lot's counters are its ledger: received, less issued, plus returned",
        """SELECT count(*) FROM inventory.lots l LEFT JOIN (
               SELECT lot_id, sum(CASE kind WHEN 'RECEIVE' THEN weight_mg + pieces ELSE 0 END) AS received,
                      sum(CASE kind WHEN 'ISSUE' THEN -(weight_mg + pieces) WHEN 'RETURN' THEN weight_mg + pieces
                          WHEN 'RECEIVE' THEN weight_mg + pieces ELSE 0 END) AS on_hand
               FROM inventory.custody_entries WHERE lot_id <> '' GROUP BY lot_id) e ON e.lot_id = l.lot_id
           WHERE coalesce(e.received, 0) <> l.received_mg + l.received_pieces
              OR coalesce(e.on_hand, 0) <> l.on_hand_mg + l.on_hand_pieces""",
    ),
)


async def history_violations(admin_db_dsn: str) -> list[str]:
    """Each rule of a history at rest that some rows break, with how many."""
    conn = await asyncpg.connect(admin_db_dsn, timeout=10)
    try:
        found = []
        for rule, query in _HISTORY_RULES:
            count = int(await conn.fetchval(query))
            if count:
                found.append(f"{rule}: {count} rows break it")
        return found
    finally:
        await conn.close()
