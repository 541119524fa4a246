"""Dead letters: messages a consumer gave up on, kept in the service's database.

A message lands here when its handler failed on the last allowed delivery, or at once
when its payload cannot be decoded (poison). The row keeps the original subject,
payload and headers, so :func:`replay_dead_letter` can publish it again once the
cause is fixed. The replay gets a new ``Nats-Msg-Id`` (``<event id>:replay:<n>``) so
JetStream's duplicate window does not drop it; consumers still deduplicate by the
event id inside the payload, so a replay applies at most once per consumer.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import ColumnElement, Row, Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc, utcnow
from mes_kernel.errors import NotFound
from mes_platform.db import Database
from mes_platform.messaging._util import MSG_ID_HEADER, decode_headers, encode_headers
from mes_platform.telemetry.logs import get_logger

__all__ = [
    "REPLAY_OF_HEADER",
    "DeadLetter",
    "ReplayResult",
    "describe_error",
    "get_dead_letter",
    "list_dead_letters",
    "record_dead_letter",
    "replay_dead_letter",
    "replay_msg_id",
]

_log = get_logger("mes.messaging.deadletters")

REPLAY_OF_HEADER = "Mes-Replay-Of"
_ERROR_MAX = 8000
_ID_MAX = 36


@dataclass(frozen=True)
class DeadLetter:
    id: int
    consumer: str
    event_id: str
    subject: str
    payload: bytes
    headers: dict[str, str]
    error: str
    deliveries: int
    created_at: datetime
    replayed_at: datetime | None


@dataclass(frozen=True)
class ReplayResult:
    dead_letter_id: int
    msg_id: str
    stream: str
    seq: int
    duplicate: bool


def describe_error(exc: BaseException, *, frames: int = 5) -> str:
    """``Type: message`` plus the innermost traceback frames, bounded in size."""
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    tail = "".join(traceback.format_tb(exc.__traceback__)[-frames:]) if exc.__traceback__ else ""
    text = f"{head}\n{tail}".strip()
    return text if len(text) <= _ERROR_MAX else text[: _ERROR_MAX - 3] + "..."


def replay_msg_id(event_id: str, n: int) -> str:
    return f"{event_id}:replay:{n}"


async def record_dead_letter(
    session: AsyncSession,
    table: Table,
    *,
    consumer: str,
    event_id: str,
    subject: str,
    payload: bytes,
    headers: Mapping[str, str] | None,
    error: str,
    deliveries: int,
) -> int:
    result = await session.execute(
        insert(table)
        .values(
            consumer=consumer,
            event_id=event_id[:_ID_MAX],
            subject=subject[:120],
            payload=payload,
            headers=encode_headers(headers),
            error=error[:_ERROR_MAX],
            deliveries=deliveries,
            created_at=utcnow(),
        )
        .returning(table.c.id)
    )
    return int(result.scalar_one())


def _to_dead_letter(row: Row[*tuple[Any, ...]]) -> DeadLetter:
    return DeadLetter(
        id=int(row[0]),
        consumer=row[1],
        event_id=row[2],
        subject=row[3],
        payload=bytes(row[4]),
        headers=decode_headers(row[5]),
        error=row[6],
        deliveries=int(row[7]),
        created_at=as_utc(row[8]),
        replayed_at=as_utc(row[9]) if row[9] is not None else None,
    )


def _columns(table: Table) -> tuple[ColumnElement[Any], ...]:
    c = table.c
    return (
        c.id,
        c.consumer,
        c.event_id,
        c.subject,
        c.payload,
        c.headers,
        c.error,
        c.deliveries,
        c.created_at,
        c.replayed_at,
    )


async def list_dead_letters(
    db: Database,
    table: Table,
    *,
    consumer: str | None = None,
    include_replayed: bool = False,
    after_id: int = 0,
    limit: int = 100,
) -> list[DeadLetter]:
    """Dead letters in id order (keyset pagination with ``after_id``), newest last."""
    query = select(*_columns(table)).where(table.c.id > after_id).order_by(table.c.id).limit(max(1, min(limit, 1000)))
    if consumer is not None:
        query = query.where(table.c.consumer == consumer)
    if not include_replayed:
        query = query.where(table.c.replayed_at.is_(None))
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    return [_to_dead_letter(r) for r in rows]


async def get_dead_letter(db: Database, table: Table, dead_letter_id: int) -> DeadLetter | None:
    async with db.write() as session:
        row = (await session.execute(select(*_columns(table)).where(table.c.id == dead_letter_id))).first()
    return _to_dead_letter(row) if row is not None else None


async def replay_dead_letter(
    db: Database, table: Table, js: JetStreamContext, dead_letter_id: int, *, timeout_s: float = 5.0
) -> ReplayResult:
    """Publish the dead letter's original subject and payload again and mark it replayed.

    The n in ``:replay:<n>`` counts the replays of this event for this consumer, so every
    replay (of this row or of a later dead letter of the same event) has a fresh id.
    Raises ``NotFound`` for an unknown id; NATS errors propagate (nothing is marked).
    """
    async with db.write() as session:
        row = (await session.execute(select(*_columns(table)).where(table.c.id == dead_letter_id))).first()
        if row is None:
            raise NotFound(f"dead letter {dead_letter_id} does not exist")
        letter = _to_dead_letter(row)
        replayed = (
            await session.execute(
                select(func.count())
                .select_from(table)
                .where(
                    table.c.consumer == letter.consumer,
                    table.c.event_id == letter.event_id,
                    table.c.replayed_at.is_not(None),
                )
            )
        ).scalar_one()
    msg_id = replay_msg_id(letter.event_id, int(replayed) + 1)
    headers = {k: v for k, v in letter.headers.items() if not k.startswith("Nats-")}
    headers[MSG_ID_HEADER] = msg_id
    headers[REPLAY_OF_HEADER] = str(letter.id)
    ack = await js.publish(letter.subject, letter.payload, timeout=timeout_s, headers=headers)
    async with db.write() as session:
        await session.execute(update(table).where(table.c.id == letter.id).values(replayed_at=utcnow()))
    _log.info(
        "dead_letter_replayed",
        dead_letter_id=letter.id,
        consumer=letter.consumer,
        event_id=letter.event_id,
        msg_id=msg_id,
        seq=ack.seq,
    )
    return ReplayResult(letter.id, msg_id, ack.stream, ack.seq, bool(ack.duplicate))
