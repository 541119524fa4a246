"""RevokePartnerApiKey, RotatePartnerApiKey and SetPartnerTier write their events to the outbox in the
transaction of the change (SQLite and PostgreSQL): the key's SHA-256 hex (what the facade caches keys
under), the revoked keys of a rotation, the new tier; a call that changes nothing writes nothing."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from mes.orders.v1 import orders_events_pb2, orders_pb2
from mes_contracts.events import PARTNER_KEY_REVOKED, PARTNER_KEY_ROTATED, PARTNER_TIER_CHANGED
from services.orders.adapters.tables import infra
from services.orders.bootstrap import App
from tests.integration.orders._support import STAFF, T


async def _events(app: App, after: int) -> list[tuple[str, bytes]]:
    async with app.db.write() as session:
        query = select(infra.outbox.c.subject, infra.outbox.c.payload).order_by(infra.outbox.c.seq)
        rows = (await session.execute(query)).all()
    return [(row.subject, bytes(row.payload)) for row in rows[after:]]


async def _count(app: App) -> int:
    return len(await _events(app, 0))


async def test_revoke_rotate_and_tier_change_write_their_events(
    app: App, stub: Any, partner_keys: dict[str, str]
) -> None:
    acme = partner_keys["acme"]
    partner = (
        await stub.GetPartner(orders_pb2.GetPartnerRequest(name="partners/acme"), metadata=STAFF, timeout=T)
    ).partner
    key_id = partner.api_keys[0].key_id
    before = await _count(app)

    revoke = orders_pb2.RevokePartnerApiKeyRequest(name="partners/acme", key_id=key_id)
    await stub.RevokePartnerApiKey(revoke, metadata=STAFF, timeout=T)
    await stub.RevokePartnerApiKey(revoke, metadata=STAFF, timeout=T)  # already revoked: no event
    [(subject, payload)] = await _events(app, before)
    assert subject == PARTNER_KEY_REVOKED.subject
    revoked = orders_events_pb2.PartnerKeyRevokedEvent.FromString(payload)
    assert (revoked.partner_id, revoked.key_id, revoked.key_hash) == (
        "acme",
        key_id,
        hashlib.sha256(acme.encode()).hexdigest(),
    )
    assert revoked.meta.event_id and revoked.meta.producer == "orders"

    globex = partner_keys["globex"]
    before = await _count(app)
    rotated_reply = await stub.RotatePartnerApiKey(
        orders_pb2.RotatePartnerApiKeyRequest(name="partners/globex"), metadata=STAFF, timeout=T
    )
    [(subject, payload)] = await _events(app, before)
    assert subject == PARTNER_KEY_ROTATED.subject
    rotated = orders_events_pb2.PartnerKeyRotatedEvent.FromString(payload)
    old, new = rotated_reply.partner.api_keys
    assert rotated.partner_id == "globex" and rotated.new_key_id == new.key_id
    assert [(k.key_id, k.key_hash) for k in rotated.revoked_keys] == [
        (old.key_id, hashlib.sha256(globex.encode()).hexdigest())
    ]

    before = await _count(app)
    tier = orders_pb2.SetPartnerTierRequest(name="partners/globex", tier=orders_pb2.PARTNER_TIER_PLUS)
    await stub.SetPartnerTier(tier, metadata=STAFF, timeout=T)
    await stub.SetPartnerTier(tier, metadata=STAFF, timeout=T)  # the same tier: no event
    [(subject, payload)] = await _events(app, before)
    assert subject == PARTNER_TIER_CHANGED.subject
    changed = orders_events_pb2.PartnerTierChangedEvent.FromString(payload)
    assert (changed.partner_id, changed.tier, changed.previous_tier) == (
        "globex",
        orders_pb2.PARTNER_TIER_PLUS,
        orders_pb2.PARTNER_TIER_STANDARD,
    )
