"""Partners and API keys: creation, tiers, key rotation and revocation, authentication."""

from __future__ import annotations

from typing import Any

import grpc

from mes.orders.v1 import orders_pb2
from mes_kernel import api_keys as key_format
from services.orders.adapters.tables import api_keys
from services.orders.bootstrap import App
from tests._infra.rpc import fails
from tests.integration.orders._support import SERVICE, SQLITE_ONLY, STAFF, T, count_rows, submit_request, with_key


async def test_create_partner_returns_its_key_once(app: App, stub: Any) -> None:
    reply = await stub.CreatePartner(
        orders_pb2.CreatePartnerRequest(partner_id="tiffany-co", display_name="Tiffany & Co"), metadata=STAFF, timeout=T
    )
    assert len(reply.api_key) == 42 and key_format.has_valid_checksum(reply.api_key)
    partner = reply.partner
    assert (partner.name, partner.tier, partner.version) == ("partners/tiffany-co", orders_pb2.PARTNER_TIER_STANDARD, 1)
    [key] = partner.api_keys
    assert key.prefix == reply.api_key[:12] and key.key_id and not key.HasField("revoke_time")
    async with app.db.write() as session:
        stored = (await session.execute(api_keys.select())).one()
    assert reply.api_key not in (stored.key_hash, stored.prefix, stored.key_id)

    got = await stub.GetPartner(orders_pb2.GetPartnerRequest(name="partners/tiffany-co"), metadata=STAFF, timeout=T)
    assert got.partner == partner
    again = await fails(
        stub.CreatePartner(
            orders_pb2.CreatePartnerRequest(partner_id="tiffany-co", display_name="x"), metadata=STAFF, timeout=T
        )
    )
    assert again.code == grpc.StatusCode.ALREADY_EXISTS
    bad = await fails(
        stub.CreatePartner(orders_pb2.CreatePartnerRequest(partner_id="Ab", display_name=""), metadata=STAFF, timeout=T)
    )
    assert (bad.code, sorted(bad.fields)) == (grpc.StatusCode.INVALID_ARGUMENT, ["display_name", "partner_id"])
    by_partner = await fails(
        stub.CreatePartner(
            orders_pb2.CreatePartnerRequest(partner_id="other", display_name="Other"),
            metadata=with_key(reply.api_key),
            timeout=T,
        )
    )
    assert by_partner.code == grpc.StatusCode.PERMISSION_DENIED


async def test_list_partners_and_set_tier(stub: Any, partner_keys: dict[str, str]) -> None:
    first = await stub.ListPartners(orders_pb2.ListPartnersRequest(page_size=1), metadata=STAFF, timeout=T)
    second = await stub.ListPartners(
        orders_pb2.ListPartnersRequest(page_size=1, page_token=first.next_page_token), metadata=STAFF, timeout=T
    )
    assert [p.partner_id for p in (*first.partners, *second.partners)] == ["acme", "globex"]
    assert not second.next_page_token

    tiered = await stub.SetPartnerTier(
        orders_pb2.SetPartnerTierRequest(name="partners/acme", tier=orders_pb2.PARTNER_TIER_ENTERPRISE),
        metadata=STAFF,
        timeout=T,
    )
    assert (tiered.partner.tier, tiered.partner.version) == (orders_pb2.PARTNER_TIER_ENTERPRISE, 2)
    unspecified = await fails(
        stub.SetPartnerTier(orders_pb2.SetPartnerTierRequest(name="partners/acme"), metadata=STAFF, timeout=T)
    )
    assert unspecified.fields == ["tier"]
    missing = await fails(
        stub.SetPartnerTier(orders_pb2.SetPartnerTierRequest(name="partners/nobody", tier=1), metadata=STAFF, timeout=T)
    )
    assert missing.code == grpc.StatusCode.NOT_FOUND


async def test_api_key_authenticates_until_revoked(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    key = partner_keys["acme"]
    reply = await stub.SubmitOrder(submit_request(), metadata=with_key(key), timeout=T)
    assert reply.order.partner == "partners/acme"
    partner = (
        await stub.GetPartner(orders_pb2.GetPartnerRequest(name="partners/acme"), metadata=STAFF, timeout=T)
    ).partner

    revoked = await stub.RevokePartnerApiKey(
        orders_pb2.RevokePartnerApiKeyRequest(name="partners/acme", key_id=partner.api_keys[0].key_id),
        metadata=STAFF,
        timeout=T,
    )
    assert revoked.partner.api_keys[0].HasField("revoke_time")
    failure = await fails(stub.ListOrders(orders_pb2.ListOrdersRequest(), metadata=with_key(key), timeout=T))
    assert (failure.code, failure.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    twice = await stub.RevokePartnerApiKey(
        orders_pb2.RevokePartnerApiKeyRequest(name="partners/acme", key_id=partner.api_keys[0].key_id),
        metadata=STAFF,
        timeout=T,
    )
    assert twice.partner == revoked.partner
    unknown = await fails(
        stub.RevokePartnerApiKey(
            orders_pb2.RevokePartnerApiKeyRequest(name="partners/acme", key_id="nope"), metadata=STAFF, timeout=T
        )
    )
    assert unknown.code == grpc.StatusCode.NOT_FOUND

    for bogus in (key_format.issue(), "mes_" + "x" * 32, "not-a-key", ""):
        assert (
            await fails(stub.ListOrders(orders_pb2.ListOrdersRequest(), metadata=with_key(bogus), timeout=T))
        ).code == (grpc.StatusCode.UNAUTHENTICATED)


async def test_rotation_revokes_every_other_key(app: App, stub: Any, partner_keys: dict[str, str]) -> None:
    old = partner_keys["globex"]
    rotated = await stub.RotatePartnerApiKey(
        orders_pb2.RotatePartnerApiKeyRequest(name="partners/globex"), metadata=STAFF, timeout=T
    )
    assert rotated.api_key != old
    assert [k.HasField("revoke_time") for k in rotated.partner.api_keys] == [True, False]
    old_fails = await fails(stub.ListOrders(orders_pb2.ListOrdersRequest(), metadata=with_key(old), timeout=T))
    assert old_fails.code == grpc.StatusCode.UNAUTHENTICATED
    ok = await stub.ListOrders(orders_pb2.ListOrdersRequest(), metadata=with_key(rotated.api_key), timeout=T)
    assert not ok.orders
    assert await count_rows(app, api_keys) == 3


async def test_authenticate_partner_is_for_services(stub: Any, partner_keys: dict[str, str]) -> None:
    key = partner_keys["acme"]
    reply = await stub.AuthenticatePartner(
        orders_pb2.AuthenticatePartnerRequest(api_key=key), metadata=SERVICE, timeout=T
    )
    assert reply.partner.partner_id == "acme"
    unknown = await fails(
        stub.AuthenticatePartner(
            orders_pb2.AuthenticatePartnerRequest(api_key=key_format.issue()), metadata=SERVICE, timeout=T
        )
    )
    assert unknown.code == grpc.StatusCode.UNAUTHENTICATED
    for metadata in (STAFF, with_key(key)):
        denied = await fails(
            stub.AuthenticatePartner(orders_pb2.AuthenticatePartnerRequest(api_key=key), metadata=metadata, timeout=T)
        )
        assert denied.code == grpc.StatusCode.PERMISSION_DENIED


@SQLITE_ONLY
async def test_calls_without_credentials_are_unauthenticated(stub: Any) -> None:
    for metadata in ((), (("authorization", "Bearer wrong"),)):
        failure = await fails(stub.ListOrders(orders_pb2.ListOrdersRequest(), metadata=metadata, timeout=T))
        assert failure.code == grpc.StatusCode.UNAUTHENTICATED
