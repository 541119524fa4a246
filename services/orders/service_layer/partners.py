"""Partner (tenant) use cases and API key authentication."""

from __future__ import annotations

from mes_kernel.errors import NotFound, PermissionDenied, Unauthenticated
from mes_kernel.paging import Page, Pager
from mes_kernel.principal import check_partner_access, require_staff
from mes_kernel.validation import Violations, parse_name
from services.orders.domain.events import PartnerKeyRevoked, PartnerKeyRotated, PartnerTierChanged, RevokedKey
from services.orders.domain.partner import (
    PARTNER_ID_RE,
    Partner,
    PartnerTier,
    hash_api_key,
    looks_like_api_key,
)
from services.orders.service_layer.api_key_cache import ApiKeyCache
from services.orders.service_layer.commands import (
    AuthenticatePartner,
    CreatePartner,
    GetPartner,
    ListPartners,
    RevokePartnerApiKey,
    RotatePartnerApiKey,
    SetPartnerTier,
)
from services.orders.service_layer.ports import OrdersDeps, UnitOfWork
from services.orders.service_layer.use_case import UseCase

__all__ = ["PartnerService"]

_PARTNER_NOT_FOUND = "partner not found"


class PartnerService(UseCase):
    def __init__(self, deps: OrdersDeps, key_cache: ApiKeyCache) -> None:
        super().__init__(deps)
        self._cache = key_cache

    async def create(self, cmd: CreatePartner) -> tuple[Partner, str]:
        """A new partner and its first API key in plain text (shown once). Staff only."""
        require_staff(cmd.principal)
        v = Violations()
        v.check(bool(PARTNER_ID_RE.match(cmd.partner_id)), "partner_id", "must be 3..40 of a-z, 0-9 and '-'")
        v.text(cmd.display_name, "display_name", max_len=120, required=True)
        tier = _tier(v, cmd.tier, allow_unspecified=True)
        v.raise_if_any()
        partner, issued = Partner.create(cmd.partner_id, cmd.display_name.strip(), tier, self._clock())
        await self._uows.transact(lambda uow: uow.partners.add(partner))
        return partner, issued.plain

    async def get(self, query: GetPartner) -> Partner:
        """Staff see every partner; a partner sees only itself (others answer NOT_FOUND)."""
        partner_id = parse_name(query.name, "partners")
        check_partner_access(query.principal, partner_id, "partner")
        async with self._uows.read() as uow:
            return await _load(uow, partner_id)

    async def list_partners(self, query: ListPartners) -> Page[Partner]:
        require_staff(query.principal)
        pager = Pager.of(self._tokens, query.page, scope=None)
        after = pager.after(lambda key: str(key[0]))
        async with self._uows.read() as uow:
            rows = await uow.partners.find(after=after, limit=pager.limit)
        return pager.page(rows, lambda partner: [partner.partner_id])

    async def set_tier(self, cmd: SetPartnerTier) -> Partner:
        require_staff(cmd.principal)
        partner_id = parse_name(cmd.name, "partners")
        v = Violations()
        new_tier = _tier(v, cmd.tier, allow_unspecified=False)
        v.raise_if_any()

        async def change(uow: UnitOfWork) -> Partner:
            partner = await _load(uow, partner_id, for_update=True)
            expected, previous = partner.version, partner.tier
            if partner.set_tier(new_tier, self._clock()):
                await uow.partners.save(partner, expected_version=expected)
                await uow.emit(PartnerTierChanged(partner_id, new_tier, previous))
            return partner

        return await self._uows.transact(change)

    async def rotate_key(self, cmd: RotatePartnerApiKey) -> tuple[Partner, str]:
        """Issue a new key and revoke all others; returns the partner and the new plain key.

        Emits ``orders.partner.key_rotated`` with the revoked keys' hashes (the facade closes the
        WebSockets opened with them)."""
        require_staff(cmd.principal)
        partner_id = parse_name(cmd.name, "partners")

        async def rotate(uow: UnitOfWork) -> tuple[Partner, str]:
            partner = await _load(uow, partner_id, for_update=True)
            expected = partner.version
            issued, revoked = partner.rotate_key(self._clock())
            await uow.partners.save(partner, expected_version=expected, added=[issued.record], revoked=revoked)
            gone = tuple(RevokedKey.of(key) for key in revoked)
            await uow.emit(PartnerKeyRotated(partner_id, gone, issued.record.key_id))
            return partner, issued.plain

        rotated = await self._uows.transact(rotate)
        self._cache.clear()
        return rotated

    async def revoke_key(self, cmd: RevokePartnerApiKey) -> Partner:
        """Revoke one key (revoking a revoked key changes nothing and emits nothing); emits
        ``orders.partner.key_revoked`` with the key's hash in the same transaction."""
        require_staff(cmd.principal)
        partner_id = parse_name(cmd.name, "partners")
        v = Violations()
        v.text(cmd.key_id, "key_id", max_len=64, required=True)
        v.raise_if_any()

        async def revoke(uow: UnitOfWork) -> Partner:
            partner = await _load(uow, partner_id, for_update=True)
            expected = partner.version
            try:
                revoked = partner.revoke_key(cmd.key_id, self._clock())
            except KeyError:
                raise NotFound("api key not found") from None
            if revoked is not None:
                await uow.partners.save(partner, expected_version=expected, revoked=[revoked])
                await uow.emit(PartnerKeyRevoked(partner_id, RevokedKey.of(revoked)))
            return partner

        partner = await self._uows.transact(revoke)
        self._cache.clear()
        return partner

    async def authenticate(self, query: AuthenticatePartner) -> Partner:
        """The partner of an active API key (callers: services only)."""
        principal = query.principal
        if principal.kind != "service" or principal.partner_id is not None:
            raise PermissionDenied("only services may authenticate partner keys")
        v = Violations()
        v.text(query.api_key, "api_key", max_len=200, required=True)
        v.raise_if_any()
        partner_id = await self.resolve_api_key(query.api_key)
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
