"""Writing events to the outbox in the caller's transaction.

Each event carries the current span (``EventMeta.traceparent``, and the ``traceparent``
header of the row, which the relay publishes as a NATS header), captured when the event is
added: the relay publishes later, outside the request. The current span is the one that caused
the event: the gRPC call's server span, or the consumer span of the event being handled
(:mod:`mes_platform.telemetry.tracing`), so a saga can be followed from its first trace id.

Rows are buffered in the session and inserted together when the transaction commits (one
statement for every event of the transaction, in the order they were added; other
append-only rows may ride along: :func:`defer_insert`): a SQLAlchemy
``before_commit`` hook on every session does it, so a commit never leaves an added event
behind, and a rollback drops them with the rest of the transaction. Savepoints are opened
with :func:`savepoint`, whose rollback drops the events added inside it (a bare
``begin_nested`` would not).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from mes.common.v1 import common_pb2
from mes_contracts.events import EventType
from mes_kernel.clock import utcnow
from mes_platform.db import WROTE_OUTBOX
from mes_platform.telemetry.tracing import TRACEPARENT, current_traceparent

__all__ = ["OutboxWriter", "defer_insert", "new_event_meta", "savepoint"]

#: ``session.info`` key: the rows added in this transaction and not inserted yet, as
#: ``(table, row)`` in the order they were added.
_PENDING = "mes.outbox_pending"


def new_event_meta(producer: str, causation_id: str = "", traceparent: str | None = None) -> common_pb2.EventMeta:
    """A new event id, now, the producer, the cause and the trace (the current one by default)."""
    meta = common_pb2.EventMeta(
        event_id=str(uuid.uuid4()),
        producer=producer,
        causation_id=causation_id,
        traceparent=current_traceparent() if traceparent is None else traceparent,
    )
    meta.occur_time.FromDatetime(utcnow())
    return meta


class OutboxWriter:
    """Adds an event row in the same transaction as the state change it describes."""

    def __init__(self, table: Table, producer: str) -> None:
        self._table = table
        self.producer = producer

    async def add(
        self,
        session: AsyncSession,
        event_type: EventType[Message],
        event: Message,
        *,
        causation_id: str = "",
        headers: dict[str, Any] | None = None,
    ) -> str:
        """Fill ``event.meta`` (if unset; its ``traceparent`` if empty) and add the row under
        the subject of ``event_type`` (inserted at commit); returns the event id."""
        if not isinstance(event, event_type.message):
            raise TypeError(f"{event_type.subject} carries {event_type.message.__name__}, not {type(event).__name__}")
        meta: common_pb2.EventMeta = event.meta  # type: ignore[attr-defined]
        if not meta.event_id:
            meta.CopyFrom(new_event_meta(self.producer, causation_id))
        elif not meta.traceparent:
            meta.traceparent = current_traceparent()
        row_headers = dict(headers or {})
        if meta.traceparent:
            row_headers.setdefault(TRACEPARENT, meta.traceparent)
        row = {
            "event_id": meta.event_id,
            "subject": event_type.subject,
            "payload": event.SerializeToString(),
            "headers": json.dumps(row_headers),
            "created_at": utcnow(),
            "attempts": 0,
        }
        defer_insert(session, self._table, row)
        session.info[WROTE_OUTBOX] = True  # Database.write() tells its listeners after commit
        return str(meta.event_id)


def defer_insert(session: AsyncSession, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` when the transaction commits, with the other deferred rows
    of that table (one statement per table). Only for append-only rows nothing reads in the
    same transaction: outbox events, history records."""
    session.info.setdefault(_PENDING, []).append((table, row))


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """A savepoint (``begin_nested``) whose rollback also drops the rows deferred inside it;
    released, they stay pending for the enclosing transaction's commit."""
    pending: list[tuple[Table, dict[str, Any]]] = session.info.setdefault(_PENDING, [])
    mark = len(pending)
    try:
        async with session.begin_nested():
            yield
    except BaseException:
        del pending[mark:]
        raise


@event.listens_for(Session, "before_commit")
def _insert_pending(session: Session) -> None:
    """Insert the buffered rows, one statement per outbox table (one in practice), when the
    outermost transaction commits (the hook also runs when a savepoint is released: its rows
    then belong to the enclosing transaction and wait for it)."""
    if session.in_nested_transaction():
        return
    pending: list[tuple[Table, dict[str, Any]]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for table, row in pending:
        by_table.setdefault(table, []).append(row)
    for table, rows in by_table.items():
        session.execute(insert(table), rows)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended: committed (the rows went in) or rolled back (they go
    with it), either way nothing may be left for the session's next transaction."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
