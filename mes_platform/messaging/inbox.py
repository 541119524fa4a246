"""The inbox (idempotent consumer) record, written in the consumer's transaction."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import utcnow

__all__ = ["insert_inbox"]


async def insert_inbox(session: AsyncSession, inbox: Table, *, consumer: str, event_id: str, subject: str) -> bool:
    """Record (consumer, event id) in the caller's transaction; False if it was already there.

    ``INSERT ... ON CONFLICT DO NOTHING``: on PostgreSQL a concurrent insert of the same
    key waits for the other transaction and then reports the duplicate.
    """
    values = {"consumer": consumer, "event_id": event_id, "subject": subject[:120], "processed_at": utcnow()}
    dialect = session.get_bind().dialect.name
    keys = [inbox.c.consumer, inbox.c.event_id]
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(inbox).values(**values).on_conflict_do_nothing(index_elements=keys)
        result = await session.execute(pg_stmt.returning(inbox.c.event_id))
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(inbox).values(**values).on_conflict_do_nothing(index_elements=keys)
        result = await session.execute(lite_stmt.returning(inbox.c.event_id))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    return result.first() is not None
