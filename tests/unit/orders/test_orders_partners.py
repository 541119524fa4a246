"""Partners and API keys (pure), and the in-process key cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mes_kernel import api_keys
from services.orders.domain.partner import (
    PARTNER_ID_RE,
    Partner,
    PartnerTier,
    hash_api_key,
    issue_api_key,
    looks_like_api_key,
)
from services.orders.service_layer.api_key_cache import ApiKeyCache

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_issued_keys_are_random_and_stored_only_as_hash_and_prefix() -> None:
    issued = issue_api_key("acme", T0)
    assert issued.plain.startswith("mes_") and len(issued.plain) == 42
    assert api_keys.has_valid_checksum(issued.plain) and not api_keys.is_legacy(issued.plain)
    assert looks_like_api_key(issued.plain)
    assert issued.record.key_hash == hash_api_key(issued.plain) and len(issued.record.key_hash) == 64
    assert issued.record.prefix == issued.plain[:12]
    assert issue_api_key("acme", T0).plain != issued.plain
    assert not looks_like_api_key("mes_short") and not looks_like_api_key(issued.plain + "x")


def test_keys_with_a_broken_checksum_are_refused_and_legacy_keys_still_look_like_keys() -> None:
    plain = issue_api_key("acme", T0).plain
    broken = plain[:-1] + ("A" if plain[-1] != "A" else "B")
    assert not looks_like_api_key(broken) and not looks_like_api_key(plain[:-1])
    legacy = plain[:-6]  # the format issued before checksums (mes_ + 32): keeps working at the service
    assert api_keys.is_legacy(legacy) and looks_like_api_key(legacy)
    # Stored hashes stay valid: the hash of a key is still the sha256 hex of all of it.
    assert hash_api_key("mes_" + "A" * 32) == "696608ce75439ef91032d9a137fb36bb6b8768927ac5fbe530b34fddad2a8b8c"


@pytest.mark.parametrize("partner_id", ["abc", "acme-2", "a" * 40, "0-9"])
def test_valid_partner_ids(partner_id: str) -> None:
    assert PARTNER_ID_RE.match(partner_id)


@pytest.mark.parametrize("partner_id", ["ab", "a" * 41, "Acme", "acme_co", "-acme", "ac me", ""])
def test_invalid_partner_ids(partner_id: str) -> None:
    assert not PARTNER_ID_RE.match(partner_id)


def test_rotation_revokes_every_active_key_and_bumps_the_version() -> None:
    partner, first = Partner.create("acme", "Acme", PartnerTier.STANDARD, T0)
    later = T0 + timedelta(hours=1)
    second, revoked = partner.rotate_key(later)
    assert [k.key_id for k in revoked] == [first.record.key_id]
    assert [k.key_id for k in partner.active_keys()] == [second.record.key_id]
    assert partner.api_keys[0].revoke_time == later
    assert (partner.version, partner.update_time) == (2, later)


def test_revoking_is_idempotent_and_unknown_keys_raise() -> None:
    partner, issued = Partner.create("acme", "Acme", PartnerTier.STANDARD, T0)
    assert partner.revoke_key(issued.record.key_id, T0) is not None
    assert partner.revoke_key(issued.record.key_id, T0) is None
    assert partner.version == 2
    with pytest.raises(KeyError):
        partner.revoke_key("nope", T0)


def test_setting_the_same_tier_changes_nothing() -> None:
    partner, _ = Partner.create("acme", "Acme", PartnerTier.STANDARD, T0)
    assert not partner.set_tier(PartnerTier.STANDARD, T0)
    assert partner.set_tier(PartnerTier.PLUS, T0)
    assert partner.version == 2


def test_key_cache_expires_and_is_bounded() -> None:
    now = [0.0]
    cache = ApiKeyCache(2.0, max_entries=2, clock=lambda: now[0])
    cache.put("h1", "acme")
    cache.put("h2", None)
    assert cache.get("h1") == (True, "acme")
    assert cache.get("h2") == (True, None)
    cache.put("h3", "globex")
    assert cache.get("h1") == (False, None)  # evicted: oldest entry
    now[0] = 2.5
    assert cache.get("h3") == (False, None)  # expired
    disabled = ApiKeyCache(0)
    disabled.put("h", "acme")
    assert disabled.get("h") == (False, None)
