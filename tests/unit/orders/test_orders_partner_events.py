"""The events of a partner's credentials and tier (use cases on the fakes, and their encoding): revoking,
rotating and changing the tier emit them in the transaction of the change; changing nothing emits nothing."""

from __future__ import annotations

import pytest

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts import events
from mes_kernel.errors import NotFound
from services.orders.domain.events import PartnerKeyRevoked, PartnerKeyRotated, PartnerTierChanged, RevokedKey
from services.orders.domain.partner import PartnerTier, hash_api_key
from services.orders.entrypoints.codec.messages import encode_event
from services.orders.service_layer import commands as c
from tests.unit.orders.harness import STAFF, Orders


async def test_revoking_an_active_key_emits_its_hash_once() -> None:
    service = Orders()
    key = (await service.seed("acme"))["acme"]
    key_id = service.uows.state.partners["acme"].api_keys[0].key_id
    before = len(service.uows.events)

    await service.partners.revoke_key(c.RevokePartnerApiKey(STAFF, "partners/acme", key_id))
    await service.partners.revoke_key(c.RevokePartnerApiKey(STAFF, "partners/acme", key_id))  # already revoked
    with pytest.raises(NotFound):
        await service.partners.revoke_key(c.RevokePartnerApiKey(STAFF, "partners/acme", "nope"))

    assert service.uows.events[before:] == [PartnerKeyRevoked("acme", RevokedKey(key_id, hash_api_key(key)))]


async def test_rotating_emits_the_revoked_keys_and_the_new_key_id() -> None:
    service = Orders()
    old = (await service.seed("acme"))["acme"]
    old_id = service.uows.state.partners["acme"].api_keys[0].key_id
    before = len(service.uows.events)

    rotated, new = await service.partners.rotate_key(c.RotatePartnerApiKey(STAFF, "partners/acme"))

    new_id = rotated.api_keys[-1].key_id
    assert service.uows.events[before:] == [PartnerKeyRotated("acme", (RevokedKey(old_id, hash_api_key(old)),), new_id)]
    await service.partners.rotate_key(c.RotatePartnerApiKey(STAFF, "partners/acme"))
    again = service.uows.events[-1]
    assert isinstance(again, PartnerKeyRotated)
    assert again.revoked == (RevokedKey(new_id, hash_api_key(new)),)  # only the key active until then


async def test_a_tier_change_emits_the_new_and_previous_tier_and_setting_the_same_tier_nothing() -> None:
    service = Orders()
    await service.seed("acme")
    before = len(service.uows.events)

    await service.partners.set_tier(c.SetPartnerTier(STAFF, "partners/acme", int(PartnerTier.ENTERPRISE)))
    await service.partners.set_tier(c.SetPartnerTier(STAFF, "partners/acme", int(PartnerTier.ENTERPRISE)))

    assert service.uows.events[before:] == [PartnerTierChanged("acme", PartnerTier.ENTERPRISE, PartnerTier.STANDARD)]


def test_partner_events_encode_as_the_registered_messages() -> None:
    kind, message = encode_event(PartnerKeyRevoked("acme", RevokedKey("k1", "ab" * 32)))
    assert kind is events.PARTNER_KEY_REVOKED and kind.stream is events.ORDERS_STREAM
    assert message == orders_events_pb2.PartnerKeyRevokedEvent(partner_id="acme", key_id="k1", key_hash="ab" * 32)

    kind, message = encode_event(PartnerKeyRotated("acme", (RevokedKey("k1", "h1"), RevokedKey("k2", "h2")), "k3"))
    assert kind is events.PARTNER_KEY_ROTATED
    assert isinstance(message, orders_events_pb2.PartnerKeyRotatedEvent)
    assert [(k.key_id, k.key_hash) for k in message.revoked_keys] == [("k1", "h1"), ("k2", "h2")]
    assert (message.partner_id, message.new_key_id) == ("acme", "k3")

    kind, message = encode_event(PartnerTierChanged("acme", PartnerTier.PLUS, PartnerTier.STANDARD))
    assert kind is events.PARTNER_TIER_CHANGED
    assert message == orders_events_pb2.PartnerTierChangedEvent(
        partner_id="acme", tier=orders_pb2.PARTNER_TIER_PLUS, previous_tier=orders_pb2.PARTNER_TIER_STANDARD
    )
    assert events.decode(kind.subject, message.SerializeToString()) == message
