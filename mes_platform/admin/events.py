"""Dead letters (list, show, replay) and re-publishing a time range of a service's outbox.

Each call opens the target service's database (one connection) and, to publish, NATS, and
closes them before it returns. The work itself is :mod:`mes_platform.messaging.deadletters`
and :meth:`mes_platform.messaging.relay.OutboxRelay.republish`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from mes_kernel.errors import NotFound, Unavailable
from mes_platform.admin.target import AdminUsageError, Target
from mes_platform.db import Database
from mes_platform.messaging.connection import NatsConnection, connect_nats
from mes_platform.messaging.deadletters import (
    DeadLetter,
    ReplayResult,
    get_dead_letter,
    list_dead_letters,
    replay_dead_letter,
)
from mes_platform.messaging.relay import OutboxRelay, PublishError

__all__ = [
    "NATS_TIMEOUT_S",
    "list_letters",
    "open_database",
    "open_nats",
    "replay_letters",
    "republish",
    "show_letter",
]

#: How long the first connection to NATS may take before the command gives up.
NATS_TIMEOUT_S = 5.0


@asynccontextmanager
async def open_database(target: Target) -> AsyncIterator[Database]:
    db = Database(target.database_url, schema=target.schema, pool_size=1)
    try:
        yield db
    finally:
        await db.dispose()


@asynccontextmanager
async def open_nats(target: Target) -> AsyncIterator[NatsConnection]:
    if not target.nats_url:
        raise AdminUsageError(f"no NATS: pass --nats-url or set NATS_URL (or MES_{target.service.upper()}_NATS_URL)")
    try:
        conn = await connect_nats(target.nats_url, name=f"mes-admin-{target.service}", initial_timeout_s=NATS_TIMEOUT_S)
    except TimeoutError:
        raise Unavailable(f"NATS at {target.nats_url} did not answer within {NATS_TIMEOUT_S:g} s") from None
    try:
        yield conn
    finally:
        await conn.close()


async def list_letters(
    target: Target, *, consumer: str | None = None, include_replayed: bool = False, after_id: int = 0, limit: int = 100
) -> list[DeadLetter]:
    """Dead letters in id order; replayed ones only with ``include_replayed``."""
    async with open_database(target) as db:
        return await list_dead_letters(
            db,
            target.infra.dead_letters,
            consumer=consumer,
            include_replayed=include_replayed,
            after_id=after_id,
            limit=limit,
        )


async def show_letter(target: Target, letter_id: int) -> DeadLetter:
    """One dead letter; ``NotFound`` for an unknown id."""
    async with open_database(target) as db:
        letter = await get_dead_letter(db, target.infra.dead_letters, letter_id)
    if letter is None:
        raise NotFound(f"dead letter {letter_id} does not exist")
    return letter


async def replay_letters(target: Target, letter_ids: Sequence[int]) -> AsyncIterator[ReplayResult]:
    """Publish the dead letters again, in the given order, yielding each result as it is done.

    The first failure (unknown id, NATS error) stops the iteration; the letters replayed
    before it stay replayed.
    """
    async with open_database(target) as db, open_nats(target) as conn:
        for letter_id in letter_ids:
            yield await replay_dead_letter(db, target.infra.dead_letters, conn.js, letter_id)


async def republish(target: Target, since: datetime, until: datetime) -> int:
    """Publish every outbox event created in ``[since, until)`` again; returns how many were acknowledged.

    Unacknowledged batches (after the relay's retries) raise ``Unavailable``.
    """
    async with open_database(target) as db, open_nats(target) as conn:
        relay = OutboxRelay(db, target.infra.outbox, conn.js, target.service)
        try:
            return await relay.republish(since, until)
        except PublishError as exc:
            raise Unavailable(str(exc)) from exc
