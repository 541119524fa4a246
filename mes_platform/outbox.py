"""Writing events to the outbox in the caller's transaction.

Each event carries the current trace (``EventMeta.traceparent``, and the ``traceparent``
header of the row, which the relay publishes as a NATS header), captured when the row is
written: the relay publishes later, outside the request.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from mes.common.v1 import common_pb2
from mes_contracts.events import EventType
from mes_kernel.clock import utcnow
from mes_platform.db import WROTE_OUTBOX
from mes_platform.telemetry.tracing import TRACEPARENT, current_traceparent

__all__ = ["OutboxWriter", "new_event_meta"]


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
        """Fill ``event.meta`` (if unset; its ``traceparent`` if empty) and insert the row
        under the subject of ``event_type``; returns the event id."""
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
        await session.execute(
            insert(self._table).values(
                event_id=meta.event_id,
                subject=event_type.subject,
                payload=event.SerializeToString(),
                headers=json.dumps(row_headers),
                created_at=utcnow(),
                attempts=0,
            )
        )
        session.info[WROTE_OUTBOX] = True  # Database.write() tells its listeners after commit
        return meta.event_id
