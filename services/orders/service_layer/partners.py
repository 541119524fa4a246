"""Partner (tenant) use cases and API key authentication."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mes_kernel.clock import utcnow
from mes_kernel.errors import NotFound, PermissionDenied, Unauthenticated
from mes_kernel.paging import PageTokens, page_size
from mes_kernel.validation import Violations, parse_name
from mes_platform.auth import current_principal, partner_scope, require_staff
from services.orders.domain.partner import (
    PARTNER_ID_RE,
    Partner,
    PartnerTier,
    hash_api_key,
    looks_like_api_key,
)
from services.orders.service_layer.api_key_cache import ApiKeyCache
from services.orders.service_layer.commands import CreatePartner
from services.orders.service_layer.paging import Page, Pager, PageRequest
from services.orders.service_layer.ports import UnitOfWork, UnitOfWorkFactory

__all__ = ["PartnerService"]

_PARTNER_NOT_FOUND = "partner not found"


class PartnerService:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        page_tokens: PageTokens,
        key_cache: ApiKeyCache,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uows = uows
        self._tokens = page_tokens
        self._cache = key_cache
        self._clock = clock

    async def create(self, cmd: CreatePartner) -> tuple[Partner, str]:
        """A new partner and its first API key in plain text (shown once). Staff only."""
        require_staff()
        v = Violations()
        v.check(bool(PARTNER_ID_RE.match(cmd.partner_id)), "partner_id", "must be 3..40 of a-z, 0-9 and '-'")
        v.text(cmd.display_name, "display_name", max_len=120, required=True)
        tier = _tier(v, cmd.tier, allow_unspecified=True)
        v.raise_if_any()
        partner, issued = Partner.create(cmd.partner_id, cmd.display_name.strip(), tier, self._clock())
        async with self._uows.write() as uow:
            await uow.partners.add(partner)
        return partner, issued.plain

    async def get(self, name: str) -> Partner:
        """Staff see every partner; a partner sees only itself (others answer NOT_FOUND)."""
        partner_id = parse_name(name, "partners")
        scope = partner_scope()
        if scope is not None and scope != partner_id:
            raise NotFound(_PARTNER_NOT_FOUND)
        async with self._uows.read() as uow:
            return await _load(uow, partner_id)

    async def list_partners(self, request: PageRequest) -> Page[Partner]:
        require_staff()
        size = page_size(request.page_size)
        pager = Pager(self._tokens, None)
        after = pager.start(request.page_token, lambda key: str(key[0]))
        async with self._uows.read() as uow:
            rows = await uow.partners.find(after=after, limit=size + 1)
        return pager.page(rows, size, lambda partner: [partner.partner_id])

    async def set_tier(self, name: str, tier: int) -> Partner:
        require_staff()
        partner_id = parse_name(name, "partners")
        v = Violations()
        new_tier = _tier(v, tier, allow_unspecified=False)
        v.raise_if_any()
        async with self._uows.write() as uow:
            partner = await _load(uow, partner_id, for_update=True)
            expected = partner.version
            if partner.set_tier(new_tier, self._clock()):
                await uow.partners.save(partner, expected_version=expected)
        return partner

    async def rotate_key(self, name: str) -> tuple[Partner, str]:
        """Issue a new key and revoke all others; returns the partner and the new plain key."""
        require_staff()
        partner_id = parse_name(name, "partners")
        async with self._uows.write() as uow:
            partner = await _load(uow, partner_id, for_update=True)
            expected = partner.version
            issued, revoked = partner.rotate_key(self._clock())
            await uow.partners.save(partner, expected_version=expected, added=[issued.record], revoked=revoked)
        self._cache.clear()
        return partner, issued.plain

    async def revoke_key(self, name: str, key_id: str) -> Partner:
        """Revoke one key (revoking a revoked key changes nothing)."""
        require_staff()
        partner_id = parse_name(name, "partners")
        v = Violations()
        v.text(key_id, "key_id", max_len=64, required=True)
        v.raise_if_any()
        async with self._uows.write() as uow:
            partner = await _load(uow, partner_id, for_update=True)
            expected = partner.version
            try:
                revoked = partner.revoke_key(key_id, self._clock())
            except KeyError:
                raise NotFound("api key not found") from None
            if revoked is not None:
                await uow.partners.save(partner, expected_version=expected, revoked=[revoked])
        self._cache.clear()
        return partner

    async def authenticate(self, api_key: str) -> Partner:
        """The partner of an active API key (callers: services only)."""
        principal = current_principal()
        if principal.kind != "service" or principal.partner_id is not None:
            raise PermissionDenied("only services may authenticate partner keys")
        v = Violations()
        v.text(api_key, "api_key", max_len=200, required=True)
        v.raise_if_any()
        partner_id = await self.resolve_api_key(api_key)
        if partner_id is None:
            raise Unauthenticated("invalid API key")
        async with self._uows.read() as uow:
            partner = await uow.partners.get(partner_id)
        if partner is None:
            raise Unauthenticated("invalid API key")
        return partner

    async def resolve_api_key(self, api_key: str) -> str | None:
        """Partner id of an active key, None otherwise; lookups are cached for a few seconds.

        The key is looked up by its SHA-256 hash (constant-time compare of the hash), so the
        time taken does not depend on how much of a guess matches a stored key.
        """
        if not looks_like_api_key(api_key):
            return None
        key_hash = hash_api_key(api_key)
        hit, partner_id = self._cache.get(key_hash)
        if hit:
            return partner_id
        async with self._uows.read() as uow:
            partner_id = await uow.partners.partner_for_key(key_hash)
        self._cache.put(key_hash, partner_id)
        return partner_id


def _tier(v: Violations, value: int, *, allow_unspecified: bool) -> PartnerTier:
    if value == 0 and allow_unspecified:
        return PartnerTier.STANDARD
    if value not in PartnerTier._value2member_map_:
        v.add("tier", "must be STANDARD, PLUS or ENTERPRISE")
        return PartnerTier.STANDARD
    return PartnerTier(value)


async def _load(uow: UnitOfWork, partner_id: str, *, for_update: bool = False) -> Partner:
    partner = await uow.partners.get(partner_id, for_update=for_update)
    if partner is None:
        raise NotFound(_PARTNER_NOT_FOUND)
    return partner
