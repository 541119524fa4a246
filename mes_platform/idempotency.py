"""Idempotent mutations keyed by ``request_id``.

The same request id with the same canonical request returns the original
result; with a different request it fails ALREADY_EXISTS
(``IDEMPOTENCY_KEY_REUSED``). Concurrent duplicates race on the primary key of
``idempotency_keys``: exactly one commits, the others roll back and replay it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import utcnow
from mes_kernel.errors import AlreadyExists
from mes_platform.db import Database

__all__ = ["IdempotencyStore", "request_fingerprint"]

T = TypeVar("T")


def request_fingerprint(request: Message, *, ignore: tuple[str, ...] = ("request_id",)) -> str:
    """SHA-256 of the request with the idempotency fields cleared (field by field, order kept)."""
    copy = type(request)()
    copy.CopyFrom(request)
    for name in ignore:
        copy.ClearField(name)
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


class IdempotencyStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def lookup(self, session: AsyncSession, scope: str, request_id: str, fingerprint: str) -> str | None:
        row = (
            await session.execute(
                select(self._table.c.request_hash, self._table.c.resource_name).where(
                    self._table.c.scope == scope, self._table.c.request_id == request_id
                )
            )
        ).first()
        if row is None:
            return None
        if row.request_hash != fingerprint:
            raise AlreadyExists(
                "request_id was already used with a different request",
                reason="IDEMPOTENCY_KEY_REUSED",
                metadata={"request_id": request_id},
            )
        return str(row.resource_name)

    async def record(
        self, session: AsyncSession, scope: str, request_id: str, fingerprint: str, resource_name: str
    ) -> None:
        await session.execute(
            insert(self._table).values(
                scope=scope,
                request_id=request_id,
                request_hash=fingerprint,
                resource_name=resource_name,
                created_at=utcnow(),
            )
        )

    async def run(
        self,
        db: Database,
        *,
        scope: str,
        request_id: str,
        fingerprint: str,
        create: Callable[[AsyncSession], Awaitable[tuple[str, T]]],
        load: Callable[[AsyncSession, str], Awaitable[T]],
    ) -> tuple[T, bool]:
        """Run ``create`` once per (scope, request_id); returns (result, replayed).

        ``create`` returns (resource name, result) and runs in the same
        transaction as the idempotency record; ``load`` rebuilds the result of
        an earlier request from the resource name.
        """
        if not request_id:
            async with db.write() as session:
                _name, result = await create(session)
            return result, False
        for _attempt in range(3):
            try:
                async with db.write() as session:
                    existing = await self.lookup(session, scope, request_id, fingerprint)
                    if existing is not None:
                        return await load(session, existing), True
                    name, result = await create(session)
                    await self.record(session, scope, request_id, fingerprint, name)
                return result, False
            except IntegrityError:
                continue  # a concurrent duplicate won the race; replay it
        async with db.write() as session:
            existing = await self.lookup(session, scope, request_id, fingerprint)
            if existing is None:
                raise AlreadyExists("conflicting concurrent request", reason="IDEMPOTENCY_KEY_REUSED")
            return await load(session, existing), True
