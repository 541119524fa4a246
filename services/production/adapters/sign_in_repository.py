"""Operators' passwords, their sessions and the failed sign-in attempts, on SQLAlchemy."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc
from mes_platform.sql import first_row
from services.production.adapters import tables as t
from services.production.adapters.rows import from_row
from services.production.domain.people import Credential, Session, SignInFailure
from services.production.domain.resources import Operator, OperatorRole

__all__ = ["SqlCredentialRepository", "SqlSessionRepository", "SqlSignInFailureRepository"]

_S, _F, _P = t.operator_sessions, t.sign_in_failures, t.operator_passwords
#: CheckSession's one lookup: the session by its token's hash, with its operator.
_SESSION_WITH_OPERATOR = select(
    _S.c.token_hash,
    _S.c.operator_code,
    _S.c.client_address,
    _S.c.created_at,
    _S.c.expire_time,
    _S.c.end_time,
    *(c.label(f"op_{c.name}") for c in t.operators.c),
).join(t.operators, t.operators.c.code == _S.c.operator_code)


def _rowcount(result: Any) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0


class SqlCredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, operator_code: str) -> Credential | None:
        row = await first_row(self._s, _P, _P.c.operator_code == operator_code)
        return from_row(Credential, row) if row else None

    async def save(self, credential: Credential) -> None:
        values = {"password_hash": credential.password_hash, "set_time": credential.set_time}
        result = await self._s.execute(update(_P).where(_P.c.operator_code == credential.operator_code).values(values))
        if _rowcount(result) == 0:  # a concurrent first insert makes this a WriteConflict (retried)
            await self._s.execute(insert(_P).values(operator_code=credential.operator_code, **values))


class SqlSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, session: Session) -> None:
        await self._s.execute(
            insert(_S).values(
                token_hash=session.token_hash,
                operator_code=session.operator_code,
                client_address=session.client_address,
                created_at=session.create_time,
                expire_time=session.expire_time,
                end_time=session.end_time,
            )
        )

    async def find(self, token_hash: str) -> tuple[Session, Operator] | None:
        row = (await self._s.execute(_SESSION_WITH_OPERATOR.where(_S.c.token_hash == token_hash))).first()
        if row is None:
            return None
        session = from_row(Session, row)
        m = row._mapping
        operator = Operator(
            code=m["op_code"],
            display_name=m["op_display_name"],
            role=OperatorRole(m["op_role"]),
            active=m["op_active"],
            create_time=as_utc(m["op_created_at"]),
            update_time=as_utc(m["op_updated_at"]),
            version=m["op_version"],
        )
        return session, operator

    async def end(self, token_hash: str, now: datetime) -> bool:
        result = await self._s.execute(
            update(_S).where(_S.c.token_hash == token_hash, _S.c.end_time.is_(None)).values(end_time=now)
        )
        return _rowcount(result) == 1

    async def end_all(self, operator_code: str, now: datetime) -> int:
        result = await self._s.execute(
            update(_S).where(_S.c.operator_code == operator_code, _S.c.end_time.is_(None)).values(end_time=now)
        )
        return _rowcount(result)

    async def prune(self, expired_before: datetime) -> int:
        return _rowcount(await self._s.execute(delete(_S).where(_S.c.expire_time < expired_before)))


class SqlSignInFailureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, failure: SignInFailure) -> None:
        await self._s.execute(
            insert(_F).values(
                operator_code=failure.operator_code, client_address=failure.client_address, failed_at=failure.time
            )
        )

    async def latest(
        self, since: datetime, limit: int, *, operator_code: str | None = None, client_address: str | None = None
    ) -> list[datetime]:
        if (operator_code is None) == (client_address is None):
            raise ValueError("give either operator_code or client_address")
        key = (
            _F.c.operator_code == operator_code if operator_code is not None else _F.c.client_address == client_address
        )
        query = select(_F.c.failed_at).where(key, _F.c.failed_at > since).order_by(_F.c.failed_at.desc()).limit(limit)
        return [as_utc(at) for at in (await self._s.scalars(query))]

    async def prune(self, before: datetime) -> int:
        return _rowcount(await self._s.execute(delete(_F).where(_F.c.failed_at < before)))
