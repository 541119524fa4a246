"""Partners and their API keys (use cases on the fakes): create, rotate, revoke, resolve."""

from __future__ import annotations

import pytest

from mes_kernel import api_keys
from mes_kernel.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from mes_kernel.paging import PageRequest
from services.orders.domain.partner import ApiKey, PartnerTier, hash_api_key
from services.orders.service_layer import commands as c
from tests.unit.orders.harness import SERVICE, STAFF, Orders, acting_for, partner


async def test_create_returns_the_only_plain_copy_of_a_working_key() -> None:
    service = Orders()
    created, key = await service.partners.create(c.CreatePartner(STAFF, "tiffany-co", "  Tiffany & Co ", 0))
    assert (created.name, created.display_name, created.tier, created.version) == (
        "partners/tiffany-co",
        "Tiffany & Co",
        PartnerTier.STANDARD,
        1,
    )
    [record] = service.uows.state.partners["tiffany-co"].api_keys
    assert key not in (record.key_hash, record.prefix, record.key_id)
    assert (record.key_hash, record.prefix) == (hash_api_key(key), key[:12])
    assert await service.partners.resolve_api_key(key) == "tiffany-co"


async def test_create_is_for_staff_reports_every_bad_field_and_refuses_a_taken_id() -> None:
    service = Orders()
    await service.seed("acme")
    for caller in (partner("acme"), acting_for("acme")):
        with pytest.raises(PermissionDenied):
            await service.partners.create(c.CreatePartner(caller, "other", "Other"))
    with pytest.raises(InvalidArgument) as raised:
        await service.partners.create(c.CreatePartner(STAFF, "Ab", " ", 9))
    assert [v.field for v in raised.value.violations] == ["partner_id", "display_name", "tier"]
    with pytest.raises(AlreadyExists):
        await service.partners.create(c.CreatePartner(SERVICE, "acme", "Acme again"))
    assert list(service.uows.state.partners) == ["acme"]


async def test_rotation_issues_a_new_key_and_revokes_every_other() -> None:
    service = Orders(cache_ttl_s=60)
    old = (await service.seed("acme"))["acme"]
    assert await service.partners.resolve_api_key(old) == "acme"  # now cached
    service.clock.tick(60)

    rotated, new = await service.partners.rotate_key(c.RotatePartnerApiKey(STAFF, "partners/acme"))

    assert new != old and rotated.version == 2
    assert [k.revoke_time for k in rotated.api_keys] == [service.clock.now, None]
    assert await service.partners.resolve_api_key(old) is None  # the cache was cleared
    assert await service.partners.resolve_api_key(new) == "acme"
    with pytest.raises(PermissionDenied):
        await service.partners.rotate_key(c.RotatePartnerApiKey(partner("acme"), "partners/acme"))


async def test_revoking_stops_a_key_once_and_unknown_keys_are_not_found() -> None:
    service = Orders(cache_ttl_s=60)
    key = (await service.seed("acme"))["acme"]
    assert await service.partners.resolve_api_key(key) == "acme"
    key_id = service.uows.state.partners["acme"].api_keys[0].key_id

    revoked = await service.partners.revoke_key(c.RevokePartnerApiKey(STAFF, "partners/acme", key_id))

    assert revoked.api_keys[0].revoke_time is not None and revoked.version == 2
    assert await service.partners.resolve_api_key(key) is None
    assert await service.partners.revoke_key(c.RevokePartnerApiKey(STAFF, "partners/acme", key_id)) == revoked
    with pytest.raises(NotFound) as raised:
        await service.partners.revoke_key(c.RevokePartnerApiKey(STAFF, "partners/acme", "nope"))
    assert raised.value.message == "api key not found"
    with pytest.raises(InvalidArgument):
        await service.partners.revoke_key(c.RevokePartnerApiKey(STAFF, "partners/acme", ""))


async def test_resolving_and_authenticating_keys() -> None:
    service = Orders()
    key = (await service.seed("acme"))["acme"]
    broken = key[:-1] + ("A" if key[-1] != "A" else "B")
    for bogus in (api_keys.issue(), "mes_" + "x" * 32, "not-a-key", "", key + "x", broken):
        assert await service.partners.resolve_api_key(bogus) is None
    assert (await service.partners.authenticate(c.AuthenticatePartner(SERVICE, key))).partner_id == "acme"
    for unknown in ("mes_" + "y" * 32, api_keys.issue()):
        with pytest.raises(Unauthenticated):
            await service.partners.authenticate(c.AuthenticatePartner(SERVICE, unknown))
    for caller in (STAFF, partner("acme"), acting_for("acme")):
        with pytest.raises(PermissionDenied):
            await service.partners.authenticate(c.AuthenticatePartner(caller, key))


async def test_keys_issued_before_checksums_keep_working() -> None:
    service = Orders()
    await service.seed("acme")
    legacy = "mes_" + "L" * 32  # a key of the old format (no checksum) whose hash is on file
    acme = service.uows.state.partners["acme"]
    acme.api_keys.append(ApiKey("legacy-key", "acme", hash_api_key(legacy), legacy[:12], service.clock.now))
    assert not api_keys.has_valid_checksum(legacy) and api_keys.is_legacy(legacy)
    assert await service.partners.resolve_api_key(legacy) == "acme"
    assert (await service.partners.authenticate(c.AuthenticatePartner(SERVICE, legacy))).partner_id == "acme"


async def test_partners_see_only_themselves_staff_see_all() -> None:
    service = Orders()
    await service.seed("acme", "globex", "initech")
    assert (await service.partners.get(c.GetPartner(partner("acme"), "partners/acme"))).partner_id == "acme"
    errors = []
    for name in ("partners/globex", "partners/nobody"):
        with pytest.raises(NotFound) as raised:
            await service.partners.get(c.GetPartner(partner("acme"), name))
        errors.append(raised.value.message)
    assert errors == ["partner not found"] * 2
    first = await service.partners.list_partners(c.ListPartners(STAFF, PageRequest(2)))
    rest = await service.partners.list_partners(c.ListPartners(STAFF, PageRequest(2, first.next_page_token)))
    assert [p.partner_id for p in first.items + rest.items] == ["acme", "globex", "initech"]
    assert not rest.next_page_token
    with pytest.raises(PermissionDenied):
        await service.partners.list_partners(c.ListPartners(partner("acme")))


async def test_tiers() -> None:
    service = Orders()
    await service.seed("acme")
    same = await service.partners.set_tier(c.SetPartnerTier(STAFF, "partners/acme", int(PartnerTier.STANDARD)))
    assert same.version == 1
    tiered = await service.partners.set_tier(c.SetPartnerTier(STAFF, "partners/acme", int(PartnerTier.ENTERPRISE)))
    assert (tiered.tier, tiered.version) == (PartnerTier.ENTERPRISE, 2)
    with pytest.raises(InvalidArgument) as raised:
        await service.partners.set_tier(c.SetPartnerTier(STAFF, "partners/acme", 0))
    assert [v.field for v in raised.value.violations] == ["tier"]
    with pytest.raises(NotFound):
        await service.partners.set_tier(c.SetPartnerTier(STAFF, "partners/nobody", 1))
