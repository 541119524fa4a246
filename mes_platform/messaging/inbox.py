"""The inbox (idempotent consumer) record, written in the consumer's transaction."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import utcnow

__all__ = ["insert_inbox", "insert_inbox_many"]


@functools.cache
def _pg_insert(inbox: Table) -> Any:
    """``INSERT ... SELECT unnest(ids), unnest(subjects) ON CONFLICT DO NOTHING RETURNING event_id``:
    one statement text whatever the number of events (prepared once per connection)."""
    text_array = postgresql.ARRAY(String)
    rows = select(
        bindparam("consumer", type_=String),
        func.unnest(bindparam("ids", type_=text_array)),
        func.unnest(bindparam("subjects", type_=text_array)),
        bindparam("now", type_=inbox.c.processed_at.type),
    )
    columns = [inbox.c.consumer, inbox.c.event_id, inbox.c.subject, inbox.c.processed_at]
    stmt = postgresql.insert(inbox).from_select(columns, rows)
    return stmt.on_conflict_do_nothing(index_elements=columns[:2]).returning(inbox.c.event_id)


async def insert_inbox(session: AsyncSession, inbox: Table, *, consumer: str, event_id: str, subject: str) -> bool:
    """Record (consumer, event id) in the caller's transaction; False if it was already there.

    ``INSERT ... ON CONFLICT DO NOTHING``: on PostgreSQL a concurrent insert of the same
    key waits for the other transaction and then reports the duplicate.
    """
    return event_id in await insert_inbox_many(session, inbox, consumer=consumer, events=[(event_id, subject)])


async def insert_inbox_many(
    session: AsyncSession, inbox: Table, *, consumer: str, events: Sequence[tuple[str, str]]
) -> set[str]:
    """Record many (event id, subject) at once; returns the event ids that were new.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING event_id`` (rows from arrays on
    PostgreSQL, a multi-row ``VALUES`` on SQLite).
    """
    if not events:
        return set()
    now = utcnow()
    unique = dict(events)  # one row per event id (a batch may hold a redelivery twice)
    rows = [
        {"consumer": consumer, "event_id": event_id, "subject": subject[:120], "processed_at": now}
        for event_id, subject in unique.items()
    ]
    dialect = session.get_bind().dialect.name
    keys = [inbox.c.consumer, inbox.c.event_id]
    if dialect == "postgresql":
        params = {"consumer": consumer, "ids": list(unique), "subjects": [r["subject"] for r in rows], "now": now}
        result = await session.execute(_pg_insert(inbox), params)
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(inbox).values(rows).on_conflict_do_nothing(index_elements=keys)
        result = await session.execute(lite_stmt.returning(inbox.c.event_id))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    return {str(row[0]) for row in result.all()}
