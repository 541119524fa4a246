"""SQL implementation of :class:`PartnerRepository`."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mes_kernel.clock import as_utc, as_utc_or_none
from mes_kernel.errors import AlreadyExists
from mes_platform.keyset import keyset_after
from mes_platform.rows import from_row, to_row
from mes_platform.sql import first_row, update_versioned
from services.orders.adapters.tables import api_keys, partners
from services.orders.domain.partner import ApiKey, Partner, PartnerTier

__all__ = ["SqlPartnerRepository"]


class SqlPartnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, partner_id: str, *, for_update: bool = False) -> Partner | None:
        row = await first_row(self._session, partners, partners.c.partner_id == partner_id, for_update=for_update)
        if row is None:
            return None
        return (await self._with_keys([row]))[0]

    async def exists(self, partner_id: str) -> bool:
        found = await self._session.scalar(select(partners.c.partner_id).where(partners.c.partner_id == partner_id))
        return found is not None

    async def add(self, partner: Partner) -> None:
        try:
            await self._session.execute(
                insert(partners).values(
                    partner_id=partner.partner_id, created_at=partner.create_time, **_partner_values(partner)
                )
            )
        except IntegrityError:  # a concurrent create won; the transaction rolls back
            raise AlreadyExists(f"partner {partner.partner_id} already exists") from None
        await self._insert_keys(partner.api_keys)

    async def save(
        self,
        partner: Partner,
        *,
        expected_version: int,
        added: Sequence[ApiKey] = (),
        revoked: Sequence[ApiKey] = (),
    ) -> None:
        await update_versioned(
            self._session,
            partners,
            partners.c.partner_id == partner.partner_id,
            expected_version,
            _partner_values(partner),
            what=f"partner {partner.partner_id}",
        )
        for key in revoked:
            await self._session.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key.key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=key.revoke_time)
            )
        await self._insert_keys(added)

    async def find(self, *, after: str | None, limit: int) -> list[Partner]:
        query = select(partners).order_by(partners.c.partner_id).limit(limit)
        if after is not None:
            query = query.where(keyset_after([(partners.c.partner_id, after, False)]))
        rows = (await self._session.execute(query)).all()
        return await self._with_keys(rows)

    async def partner_for_key(self, key_hash: str) -> str | None:
        row = (
            await self._session.execute(
                select(api_keys.c.partner_id, api_keys.c.key_hash).where(
                    api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
                )
            )
        ).first()
        if row is None or not hmac.compare_digest(row.key_hash, key_hash):
            return None
        return str(row.partner_id)

    async def _insert_keys(self, keys: Sequence[ApiKey]) -> None:
        if keys:
            await self._session.execute(insert(api_keys), [_key_values(key) for key in keys])

    async def _with_keys(self, rows: Sequence[Row[Any]]) -> list[Partner]:
        if not rows:
            return []
        ids = [row.partner_id for row in rows]
        key_rows = await self._session.execute(
            select(api_keys).where(api_keys.c.partner_id.in_(ids)).order_by(api_keys.c.created_at, api_keys.c.key_id)
        )
        keys: dict[str, list[ApiKey]] = {partner_id: [] for partner_id in ids}
        for row in key_rows:
            keys[row.partner_id].append(_key(row))
        return [_partner(row, keys[row.partner_id]) for row in rows]


# -- rows <-> domain ----------------------------------------------------------------------


def _partner_values(partner: Partner) -> dict[str, Any]:
    """The columns a change of the partner may move (an insert adds the fixed ones)."""
    return {
        "display_name": partner.display_name,
        "tier": partner.tier.name,
        "version": partner.version,
        "updated_at": partner.update_time or partner.create_time,
    }


def _partner(row: Row[Any], keys: list[ApiKey]) -> Partner:
    return Partner(
        partner_id=row.partner_id,
        display_name=row.display_name,
        tier=PartnerTier[row.tier],
        create_time=as_utc(row.created_at),
        version=row.version,
        api_keys=keys,
        update_time=as_utc(row.updated_at),
    )


def _key_values(key: ApiKey) -> dict[str, Any]:
    return to_row(key, api_keys, created_at=key.create_time, revoked_at=key.revoke_time)


def _key(row: Row[Any]) -> ApiKey:
    return from_row(ApiKey, row, create_time=as_utc(row.created_at), revoke_time=as_utc_or_none(row.revoked_at))
